"""A real Prometheus (Debian's ``prometheus`` package) that a test starts on a spare loopback port, and promtool.

The test hands it the scrape targets and the rules; it gets a configuration,
a TSDB directory and a port of its own, and is stopped (SIGTERM, then SIGKILL)
when the test ends. Without the binaries a test is skipped, and fails under
``CI=true`` (.ci/run installs the package).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from sheepfold.testing.services import unavailable
from tests.support.ports import spare_port

ROOT = Path(__file__).resolve().parents[2]
#: The shipped rules and their promtool unit tests (docs/operations.md, "Alerts").
ALERT_RULES = ROOT / "deploy" / "prometheus" / "sheepfold-alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "sheepfold-alerts.test.yml"


def binary(name: str) -> str:
    """The path of ``prometheus`` or ``promtool``; skips the test without it (fails it under CI)."""
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed (apt-get install prometheus)")
    return found


def rules_with_for(alert: str, duration: str) -> dict[str, Any]:
    """The shipped rules, with ``alert``'s ``for:`` set to ``duration``: its expression stays the real one."""
    rules = yaml.safe_load(ALERT_RULES.read_text())
    found = [rule for group in rules["groups"] for rule in group["rules"] if rule.get("alert") == alert]
    if len(found) != 1:
        raise KeyError(f"{alert!r} is not one alert of {ALERT_RULES}")
    found[0]["for"] = duration
    return rules


class PrometheusServer:
    """``prometheus`` on ``127.0.0.1:port`` scraping ``targets`` (job ``sheepfold``) with ``rules`` loaded.

    ``interval`` is both the scrape and the rule evaluation interval (a
    Prometheus duration, e.g. ``"500ms"``); ``token`` is sent as the bearer
    token of every scrape. Use it as a context manager.
    """

    def __init__(self, targets: Sequence[str], rules: dict[str, Any], *, token: str, interval: str = "500ms") -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="sheepfold-prometheus-"))
        self.port = spare_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.directory / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
        (self.directory / "token").write_text(token)
        config = {
            "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
            "rule_files": ["rules.yml"],
            "scrape_configs": [
                {
                    "job_name": "sheepfold",
                    "authorization": {"credentials_file": "token"},
                    "static_configs": [{"targets": list(targets)}],
                }
            ],
        }
        (self.directory / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  # closed in stop()

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        """Start it and wait until ``/-/ready`` answers 200."""
        command = [
            binary("prometheus"),
            f"--config.file={self.directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.output()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not become ready: {self.output()[-2000:]}")
            time.sleep(0.1)

    def output(self) -> str:
        """What the server logged so far."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def api(self, path: str) -> Any:
        """``GET /api/v1/<path>``'s ``data``."""
        answer = httpx.get(f"{self.url}/api/v1/{path}", timeout=5).json()
        assert answer["status"] == "success", answer
        return answer["data"]

    def alerts(self, name: str, state: str = "firing") -> list[dict[str, Any]]:
        """The active alerts named ``name`` in ``state`` (``pending`` or ``firing``), from ``/api/v1/alerts``."""
        return [
            alert
            for alert in self.api("alerts")["alerts"]
            if alert["labels"]["alertname"] == name and alert["state"] == state
        ]

    def stop(self) -> None:
        """SIGTERM (SIGKILL after 10 s) and remove its directory; idempotent."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_exc: object) -> None:
        self.stop()
