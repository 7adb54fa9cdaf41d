"""The ``sheepfold`` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sheepfold.cli import served_address
from tests.support.plugins import needs

SHEEPFOLD = [sys.executable, "-c", "from sheepfold.cli import main; main()"]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SHEEPFOLD, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}, cwd=cwd
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs("sheepfold_example")  # the entry-point plugin it disables
def test_plugins_json_lists_every_plugin_with_its_state():
    result = run("plugins", "--json", env={"SHEEPFOLD_PLUGINS__DISABLED": '["example"]'})
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["sheepfold.core"]["enabled"] is True
    assert plugins["example"] == {**plugins["example"], "enabled": False, "distribution": "sheepfold-example"}


def test_plugins_table_has_a_line_per_plugin():
    result = run("plugins")
    assert result.returncode == 0
    assert any(line.startswith("sheepfold.memory") and "enabled" in line for line in result.stdout.splitlines())


def test_check_passes_on_good_settings():
    result = run("check")
    assert result.returncode == 0 and "valid" in result.stdout


def test_check_fails_with_the_same_messages_start_up_prints():
    result = run("check", env={"SHEEPFOLD_CACHE__MAX_ENTRIES": "-3", "SHEEPFOLD_ADMIN__TOKEN": "@int 12345"})
    assert result.returncode == 1
    assert "cache.max_entries" in result.stderr and "admin.token" in result.stderr
    assert "12345" not in result.stderr


def test_hook_register_commands_adds_a_subcommand(tmp_path):
    (tmp_path / "hello_cmd.py").write_text(
        "import click\n"
        "def sheepfold_register_commands(cli):\n"
        "    @cli.command()\n"
        "    def hello():\n"
        "        click.echo('hello from a plugin command')\n"
    )
    result = run("hello", env={"SHEEPFOLD_PLUGINS__DIRECTORY": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello from a plugin command"


def test_serve_answers_on_the_given_port_and_stops_cleanly():
    port = free_port()
    server = subprocess.Popen([*SHEEPFOLD, "serve", "--port", str(port), "--log-level", "warning"])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1) as response:
                    assert json.load(response) == {"status": "ok"}
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("sheepfold serve did not answer")
                time.sleep(0.1)
    finally:
        server.terminate()
        # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught (exit -15).
        assert server.wait(timeout=15) in (0, -15)


@pytest.mark.parametrize(("setting", "expected"), [(None, False), ("true", True)])
def test_serve_turns_websocket_compression_on_only_when_asked(monkeypatch, setting, expected):
    import uvicorn

    from sheepfold.cli import serve

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **options: calls.append(options))
    if setting is not None:
        monkeypatch.setenv("SHEEPFOLD_HTTP__WS_PER_MESSAGE_DEFLATE", setting)
    serve.main(["--port", "8123"], standalone_mode=False)
    assert calls[0]["ws_per_message_deflate"] is expected
    assert calls[0]["port"] == 8123


@pytest.mark.parametrize(
    ("host", "port", "address"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("::1", 8001, "http://[::1]:8001"),
        ("0.0.0.0", 8002, f"http://{socket.gethostname()}:8002"),
    ],
)
def test_serve_tells_each_instance_the_address_its_peers_reach_it_at(host, port, address):
    assert served_address(host, port) == address


def test_serve_exports_the_fleet_address_to_its_workers_only_while_it_serves(monkeypatch):
    import uvicorn

    from sheepfold.cli import serve

    seen: list[str | None] = []
    monkeypatch.delenv("SHEEPFOLD_FLEET__ADDRESS", raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.append(os.environ.get("SHEEPFOLD_FLEET__ADDRESS")))
    serve.main(["--host", "127.0.0.1", "--port", "8124"], standalone_mode=False)
    assert seen == ["http://127.0.0.1:8124"]
    assert "SHEEPFOLD_FLEET__ADDRESS" not in os.environ
