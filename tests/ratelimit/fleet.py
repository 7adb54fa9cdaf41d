"""Real ``sheepfold serve`` processes sharing one Redis, for the cross-instance proofs.

Each instance is a separate process started from the installed ``sheepfold``
command with its own settings file (``SHEEPFOLD_SETTINGS_FILE``), on a spare
loopback port, and is stopped (SIGTERM, then SIGKILL) when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx

from tests.support.admin import ADMIN_TOKEN
from tests.support.ports import spare_port

SHEEPFOLD = str(Path(sys.executable).with_name("sheepfold"))
#: The installed plugins these processes run; every other one is disabled, so the proof does not
#: depend on what other plugins need (secrets, databases) to start.
NEEDED_PLUGINS = {"ratelimit", "redis"}


def _disabled_plugins() -> str:
    names = sorted({entry.name for entry in metadata.entry_points(group="sheepfold.plugins")} - NEEDED_PLUGINS)
    return "[" + ", ".join(f'"{name}"' for name in names) + "]"


def fleet_settings(redis_url: str, prefix: str, limit: str, *, expected_instances: int = 2) -> str:
    """A settings file: ``GET /health/live`` limited by policy ``fleet`` on Redis, memory as fallback.

    Only 127.0.0.1 is a trusted proxy, so a peer on another loopback address
    (127.0.0.2) is an untrusted client. No other route is limited.
    """
    return f"""
[testing.plugins]
disabled = {_disabled_plugins()}

[testing.redis]
url = "{redis_url}"
prefix = "{prefix}"

[testing.switch]
probe_interval = 0.2

[testing.ratelimit]
backend = "redis"
fallback = "memory"
default_policy = ""
exempt_paths = []
trusted_proxies = ["127.0.0.1"]
expected_instances = {expected_instances}

[testing.ratelimit.routes]
"/health/live" = "fleet"

[testing.ratelimit.policies.fleet]
limit = "{limit}"

[testing.admin]
token = "{ADMIN_TOKEN}"
"""


class ServedInstance:
    """One ``sheepfold serve`` process; ``url`` is its base URL."""

    def __init__(self, settings_file: Path) -> None:
        self.port = spare_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {
            **os.environ,
            "SHEEPFOLD_ENV": "testing",
            "SHEEPFOLD_SETTINGS_FILE": str(settings_file),
            "SHEEPFOLD_INSTANCE__ID": f"fleet-{self.port}",
        }
        self.process = subprocess.Popen(
            [SHEEPFOLD, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sheepfold serve exited: {self.process.stderr.read().decode()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"sheepfold serve on port {self.port} did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()


@contextlib.contextmanager
def fleet(settings: str, size: int = 2) -> Iterator[list[ServedInstance]]:
    """``size`` instances serving ``settings``, ready; all stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="sheepfold-fleet-") as directory:
        settings_file = Path(directory) / "settings.toml"
        settings_file.write_text(settings)
        instances = [ServedInstance(settings_file) for _ in range(size)]
        try:
            for instance in instances:
                instance.wait_ready()
            yield instances
        finally:
            for instance in instances:
                instance.stop()
