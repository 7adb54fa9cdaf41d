"""``logging.format = "json"``: every line a real ``sheepfold serve --workers 2`` writes is one JSON object.

The kernel's, a plugin's and uvicorn's records (its parent process, its
workers, its access lines) alike, each with the instance and, during a
request, the request's id.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import httpx

from tests.kernel.served_plugins import probe
from tests.support.admin import ADMIN_ENV
from tests.support.served_instance import ServedInstance

FIELDS = {"time", "level", "logger", "message", "instance", "request_id", "trace_id", "span_id"}


def settings_file(directory: Path) -> Path:
    disabled = sorted(entry.name for entry in metadata.entry_points(group="sheepfold.plugins"))
    path = directory / "settings.toml"
    path.write_text(
        f"""
[testing]
plugins = {{ directory = "{Path(probe.__file__).parent}", disabled = {disabled!r} }}
logging = {{ format = "json" }}
request_id = {{ trusted_proxies = ["127.0.0.1"] }}
""".replace("'", '"')
    )
    return path


def test_every_line_is_json_with_the_instance_and_the_request_id(tmp_path):
    instance = ServedInstance(
        settings_file(tmp_path),
        workers=2,
        log_level="info",
        env={**ADMIN_ENV, "SHEEPFOLD_INSTANCE__ID": "json-logs-1"},
    )
    try:
        instance.wait_ready()
        offered = httpx.post(f"{instance.url}/probe", headers={"X-Request-ID": "offered-by-the-proxy"})
        generated = httpx.post(f"{instance.url}/probe")
    finally:
        instance.stop()
        output = instance.output()
        instance.close()
    assert offered.headers["x-request-id"] == "offered-by-the-proxy"
    request_id = generated.headers["x-request-id"]

    lines = [line for line in output.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # fails on the first line that is not JSON
    assert all(set(record) >= FIELDS for record in records)
    assert all(record["instance"] == "json-logs-1" for record in records)
    by_logger = {(record["logger"], record["request_id"]) for record in records}
    # uvicorn's parent and workers, the kernel, a plugin's route, uvicorn's access lines.
    assert any(record["logger"] == "uvicorn.error" and "parent process" in record["message"] for record in records)
    assert any(record["logger"] == "sheepfold" and "started" in record["message"] for record in records)
    assert {("sheepfold.tests.probe", "offered-by-the-proxy"), ("sheepfold.tests.probe", request_id)} <= by_logger
    assert {("uvicorn.access", "offered-by-the-proxy"), ("uvicorn.access", request_id)} <= by_logger
