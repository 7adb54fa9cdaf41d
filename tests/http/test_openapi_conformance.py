"""The OpenAPI document tells the truth: schemathesis against a served app, every check, no failure.

A real uvicorn process serves every shipped plugin on memory (admin token
set, a signed-in session cookie given, rate limits high); schemathesis
generates requests from ``/openapi.json`` (examples, coverage, fuzzing and
stateful phases, bounded) and runs all its checks: no 5xx, every status,
content type, header and body as documented, schema-valid requests accepted,
invalid ones rejected, 405 for undeclared methods. ``SHEEPFOLD_SCHEMATHESIS_SEED``
overrides the fixed seed to explore further.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.full_app import ADMIN_TOKEN
from tests.support.ports import spare_port

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 25  # per operation and phase: about 20 s on two cores


@contextlib.contextmanager
def served() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a uvicorn process serving tests/http/served_full_app.py."""
    port = spare_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.http.served_full_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "SHEEPFOLD_ENV": "testing"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            assert server.poll() is None, "the server exited while starting"
            assert time.monotonic() < deadline, "the server did not start within 60 s"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_schemathesis_finds_no_failure_in_the_served_document():
    with served() as base:
        login = httpx.post(f"{base}/example/login", json={"user": "schemathesis"})
        cookie = login.headers["set-cookie"].split(";")[0]
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")),
                "run",
                f"{base}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                os.environ.get("SHEEPFOLD_SCHEMATHESIS_SEED", "20261204"),
                "--header",
                f"Authorization: Bearer {ADMIN_TOKEN}",
                "--header",
                f"Cookie: {cookie}",
                "--request-timeout",
                "10",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if run.returncode != 0:
        pytest.fail(
            f"schemathesis exited {run.returncode}:\n{run.stdout[-15000:]}\n{run.stderr[-3000:]}", pytrace=False
        )
    assert "Tested: 0" not in run.stdout, run.stdout
