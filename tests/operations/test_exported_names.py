"""Every metric the alerting rules and the Grafana dashboard read is one that sheepfold exports.

The names come from a scrape of an app with every installed plugin (state and
cache on Redis, so plugin-redis reports too; a read replica, so the database's
replica series do), expanded as Prometheus sees them (a counter ``x`` is
``x_total``, a histogram ``x_bucket``, ``x_sum`` and ``x_count``); the
expressions are parsed with promql-parser, so a misspelt name anywhere in a
selector fails here instead of drawing an empty panel or never firing.
"""

from __future__ import annotations

import json
import re

import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.admin import ADMIN_HEADERS
from tests.support.prometheus_server import ALERT_RULES, ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "sheepfold-dashboard.json"
#: Series Prometheus makes itself for every target, not exported by sheepfold.
PROMETHEUS_OWN = {"up"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}


def names_read_by(expr: str) -> set[str]:
    """The metric names ``expr`` selects; Grafana's ``$__rate_interval`` read as a plain range."""
    parsed = promql_parser.parse(expr.replace("$__rate_interval", "5m"))
    names: set[str] = set()
    promql_parser.walk(
        parsed, lambda node: names.add(node.name) if isinstance(node, promql_parser.VectorSelector) else None
    )
    return names


def rule_expressions() -> list[str]:
    return [rule["expr"] for group in yaml.safe_load(ALERT_RULES.read_text())["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    panels = [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]
    # label_values(<selector>, <label>): its selector is PromQL too.
    variables = [
        re.fullmatch(r"label_values\((.*), \w+\)", variable["query"]).group(1)
        for variable in board["templating"]["list"]
        if variable["type"] == "query"
    ]
    return panels + variables


@pytest.fixture
async def exported(sheepfold_app, redis_url, redis_prefix, postgres_url) -> set[str]:
    # A replica, for the replica metrics: the primary itself, which its check takes out (not a standby),
    # so its series exist as they do for any replica.
    database = {"url": postgres_url, "replicas": [{"url": postgres_url, "name": "primary-as-replica"}]}
    app = await sheepfold_app(
        {"redis": {"url": redis_url, "prefix": redis_prefix}, "database": database},
        load_entry_points=True,
        backends={"state": "redis", "cache": "redis"},
    )
    response = await app.client.get("/metrics", headers=ADMIN_HEADERS)
    assert response.status == 200
    names: set[str] = set()
    for family in text_string_to_metric_families(await response.text()):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def test_names_are_read_from_every_kind_of_selector():
    assert names_read_by(
        'delta(max by (q) (a{s="failed"})[10m:1m]) > 0 and on (i) rate(b_total[$__rate_interval]) / c offset 5m'
    ) == {"a", "b_total", "c"}


def unknown(expressions: list[str], exported: set[str]) -> dict[str, set[str]]:
    """Each expression that reads a name sheepfold does not export, with those names."""
    found = {expr: names_read_by(expr) - exported - PROMETHEUS_OWN for expr in expressions}
    return {expr: names for expr, names in found.items() if names}


async def test_alert_rules_read_only_exported_metrics(exported):
    assert {"sheepfold_http_requests_total", "sheepfold_recovery_duration_seconds_count", "sheepfold_redis_up"} <= (
        exported
    )
    assert unknown(rule_expressions(), exported) == {}


async def test_dashboard_panels_read_only_exported_metrics(exported):
    assert unknown(dashboard_expressions(), exported) == {}
