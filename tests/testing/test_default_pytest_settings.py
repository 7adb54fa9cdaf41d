"""The kit works in a plugin author's own repository: pytest's default settings, no workspace configuration.

Each test runs pytest in a subprocess from a temporary folder that has no
pytest configuration at all; pytest finds the kit through its ``pytest11``
entry point.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sheepfold.testing import spare_port

EXAMPLE_TESTS = Path(__file__).resolve().parents[2] / "plugins" / "example" / "tests"


def run_pytest(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"SHEEPFOLD_ENV", "PYTEST_ADDOPTS", "CI"}}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args],
        cwd=folder,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_example_plugins_async_tests_pass_without_any_pytest_configuration(tmp_path):
    for test_file in EXAMPLE_TESTS.glob("test_*.py"):
        shutil.copy(test_file, tmp_path)
    assert not (tmp_path / "pyproject.toml").exists()
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout and "failed" not in result.stdout


def test_a_projects_own_asyncio_mode_is_left_as_it_set_it(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\n")
    (tmp_path / "test_strict.py").write_text(
        "import pytest\n\n"
        "async def test_unmarked():\n    pass\n\n"
        "@pytest.mark.asyncio\nasync def test_marked(sheepfold_app):\n    assert (await sheepfold_app()).app.started\n"
    )
    result = run_pytest(tmp_path, "-v")
    # strict: the marked test runs with the kit's async fixture; the unmarked one is not run by pytest-asyncio.
    assert "test_strict.py::test_marked PASSED" in result.stdout
    assert "1 passed" in result.stdout and "test_unmarked" in result.stdout + result.stderr


def test_a_missing_service_skips_with_a_reason_and_fails_under_ci(tmp_path):
    (tmp_path / "test_needs_redis.py").write_text("def test_it(redis_url):\n    pass\n")
    dead = f"redis://127.0.0.1:{spare_port()}/0"
    skipped = run_pytest(tmp_path, SHEEPFOLD_TEST_REDIS_URL=dead)
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout
    assert "Redis is not reachable at 127.0.0.1" in skipped.stdout
    failed = run_pytest(tmp_path, SHEEPFOLD_TEST_REDIS_URL=dead, CI="true")
    assert failed.returncode == 1 and "CI=true requires it" in failed.stdout
