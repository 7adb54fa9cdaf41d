"""The shipped alerting rules (deploy/prometheus): promtool accepts them, their unit tests pass, and none is untested.

promtool comes with Debian's ``prometheus`` package (.ci/run installs it);
without it these tests skip, and fail under ``CI=true``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.prometheus_server import ALERT_RULES, ALERT_TESTS, binary

OPERATIONS_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERT_RULES.read_text())["groups"] for rule in group["rules"]]


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *arguments], capture_output=True, text=True, cwd=ALERT_RULES.parent, timeout=60
    )


def test_promtool_accepts_the_rules():
    result = promtool("check", "rules", ALERT_RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_the_rules_pass_their_unit_tests():
    result = promtool("test", "rules", ALERT_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet():
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"
    assert (firing | quiet) - names == set(), "tests of alerts that do not exist"


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_every_alert_says_what_happened_how_bad_and_where_its_runbook_is(rule):
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    name = rule["alert"]
    assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{name.lower()}"
    # The anchor is the heading's (myst_heading_anchors): a runbook entry per alert, under its own name.
    assert re.search(rf"^#### {name}$", OPERATIONS_GUIDE.read_text(), re.MULTILINE), f"no runbook entry for {name}"
