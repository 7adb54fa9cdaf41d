"""Where the server CPU goes: py-spy samples one instance of a side while the load runs.

py-spy (a sampling profiler, ``pip install py-spy``, in the ``bench`` group) reads the
instance's Python stacks 200 times a second from outside the process without stopping it
(``--nonblocking``) and keeps only the samples in which the process was running, so the
shares are shares of CPU time. Each sample goes to the component of its innermost Python
frame (its file's package); C code (uvloop, httptools, hiredis, asyncpg's protocol) counts
for the Python frame that called it. The shares times the side's server CPU per request
give milliseconds per request.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

#: (a fragment of a frame's file path, the component it belongs to): the first that matches wins.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("/sheepfold_ratelimit/", "sheepfold rate limiting"),
    ("/sheepfold_sessions/", "sheepfold sessions"),
    ("/sheepfold_redis/", "sheepfold Redis adapters"),
    ("/sheepfold_database/", "sheepfold database"),
    ("/sheepfold_jobs/", "sheepfold jobs"),
    ("/sheepfold_realtime/", "sheepfold realtime"),
    ("/sheepfold_console/", "sheepfold console"),
    ("/sheepfold_example/", "sheepfold example plugin"),
    ("/fleet/platform_plugin/", "the fleet routes"),
    ("/fleet/bare_app", "the fleet routes"),
    ("/sheepfold/", "sheepfold kernel"),
    ("/blacksheep/", "BlackSheep"),
    ("/redis/", "redis-py"),
    ("/uvicorn/", "uvicorn"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/asyncpg/", "asyncpg"),
    ("/prometheus_client/", "prometheus-client"),
    ("/arq/", "arq"),
    ("/asyncio/", "asyncio (the event loop's Python side)"),
)
OTHER = "the standard library and the rest"
#: A frame of py-spy's raw output: ``function (path:line)``.
_FRAME_PATH = re.compile(r"\((.*):\d+\)$")


@dataclass(frozen=True)
class Profile:
    """Samples of one instance by component (innermost frame); ``samples`` in all."""

    samples: int
    by_component: dict[str, int]

    def share(self, component: str) -> float:
        return self.by_component.get(component, 0) / self.samples if self.samples else 0.0


def component_of(path: str) -> str:
    return next((name for fragment, name in COMPONENTS if fragment in path), OTHER)


def read_profile(raw: Path) -> Profile:
    """A profile from py-spy's ``--format raw`` output: one ``frame;frame;...;innermost count`` a line."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        innermost = stack.rsplit(";", 1)[-1]
        match = _FRAME_PATH.search(innermost)
        counts[component_of(match.group(1) if match else "")] += int(number)
    return Profile(sum(counts.values()), dict(counts))


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    """py-spy recording process ``pid`` for ``seconds`` into ``<folder>/profile-<side>.txt``."""

    def __init__(self, folder: Path, side: str, pid: int, seconds: int) -> None:
        self.raw = folder / f"profile-{side}.txt"
        self._log = folder / f"py-spy-{side}.log"
        self._pid, self._seconds = pid, seconds
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        executable = py_spy()
        if executable is None:
            self._log.write_text("py-spy is not installed (pip install py-spy): no profile\n")
            return
        command = [executable, "record", "--pid", str(self._pid), "--duration", str(self._seconds)]
        command += ["--rate", "200", "--nonblocking", "--full-filenames", "--format", "raw", "--output", str(self.raw)]
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> Profile | None:
        """The profile once py-spy has written it; None when it could not record (its log says why)."""
        if self._process is None:
            return None
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.send_signal(signal.SIGINT)  # py-spy writes what it has on an interrupt
            self._process.wait()
        return read_profile(self.raw) if self.raw.exists() else None
