"""A real ``sheepfold serve`` process, for tests that are about processes (instances, workers, their output).

Started from the installed ``sheepfold`` command with its own settings file
(``SHEEPFOLD_SETTINGS_FILE``) in the ``testing`` environment, on a spare
loopback port; stopped with SIGTERM (then SIGKILL). What it writes to stderr
goes to a file, so a chatty server never blocks on a full pipe, and
:meth:`ServedInstance.output` reads it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.support.ports import spare_port

SHEEPFOLD = str(Path(sys.executable).with_name("sheepfold"))


class ServedInstance:
    """One ``sheepfold serve`` process; ``url`` is its base URL.

    ``workers``: its ``--workers``; ``env``: variables added to the test's
    own environment (``SHEEPFOLD_INSTANCE__ID`` is ``instance-<port>`` unless
    given).
    """

    def __init__(
        self,
        settings_file: Path,
        *,
        workers: int = 1,
        log_level: str = "warning",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = spare_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {
            **os.environ,
            "SHEEPFOLD_ENV": "testing",
            "SHEEPFOLD_SETTINGS_FILE": str(settings_file),
            "SHEEPFOLD_INSTANCE__ID": f"instance-{self.port}",
            **(env or {}),
        }
        self.instance_id = environment["SHEEPFOLD_INSTANCE__ID"]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  # lives as long as the process; close() closes it
        command = [SHEEPFOLD, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", log_level]
        self.process = subprocess.Popen(
            [*command, "--workers", str(workers)], env=environment, stdout=subprocess.DEVNULL, stderr=self._stderr
        )

    def output(self) -> str:
        """Everything the process wrote to stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sheepfold serve exited: {self.output()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"sheepfold serve on port {self.port} did not become ready")

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if it has not ended within 10 s; idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def close(self) -> None:
        """Stop, and drop what it wrote."""
        self.stop()
        self._stderr.close()
