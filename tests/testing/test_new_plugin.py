"""``sheepfold new-plugin``: the distribution it writes installs, is listed by ``sheepfold plugins``, passes its tests.

The plugin is installed (built as a wheel, as ``pip install`` builds it)
into a folder of its own put on ``PYTHONPATH``, so the workspace's
environment is left as it was; its tests run from its own folder, without
the workspace's pytest configuration, on memory and on the machine's Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sheepfold.cli import cli

BIN = Path(sys.executable).parent


def run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"SHEEPFOLD_ENV", "PYTEST_ADDOPTS"}}
    return subprocess.run(command, cwd=cwd, env={**environment, **env}, capture_output=True, text=True, timeout=600)


def test_a_generated_plugin_installs_is_listed_and_passes_its_tests_on_memory_and_redis(tmp_path, redis_url):
    created = CliRunner().invoke(cli, ["new-plugin", "flock", "--directory", str(tmp_path)])
    assert created.exit_code == 0, created.output
    plugin = tmp_path / "sheepfold-flock"
    assert {"pyproject.toml", "README.md"} <= {path.name for path in plugin.iterdir()}

    site = tmp_path / "site"
    installed = run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(plugin)], tmp_path
    )
    assert installed.returncode == 0, installed.stderr
    assert (site / "sheepfold_flock" / "plugin.py").exists()

    listed = run([str(BIN / "sheepfold"), "plugins", "--json"], tmp_path, PYTHONPATH=str(site))
    assert listed.returncode == 0, listed.stderr
    flock = next(info for info in json.loads(listed.stdout) if info["name"] == "flock")
    assert flock["distribution"] == "sheepfold-flock" and flock["enabled"]

    tested = run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "tests"],
        plugin,
        PYTHONPATH=str(site),
        CI="true",
        SHEEPFOLD_TEST_REDIS_URL=redis_url,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "test_hello_counts_visits_in_redis PASSED" in tested.stdout
    assert "test_hello_greets_and_counts_visits_on_memory PASSED" in tested.stdout
    assert "skipped" not in tested.stdout and "failed" not in tested.stdout


@pytest.mark.parametrize("name", ["Flock", "1flock", "flo ck", ""])
def test_a_name_that_is_no_python_package_is_refused_naming_it(tmp_path, name):
    refused = CliRunner().invoke(cli, ["new-plugin", name, "--directory", str(tmp_path)])
    assert refused.exit_code == 2 and "expected lower-case letters" in refused.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / "sheepfold-flock").mkdir()
    refused = CliRunner().invoke(cli, ["new-plugin", "flock", "--directory", str(tmp_path)])
    assert refused.exit_code == 1 and "already exists" in refused.output
    assert list((tmp_path / "sheepfold-flock").iterdir()) == []
