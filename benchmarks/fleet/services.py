"""The processes of a run: Redis and PostgreSQL of the harness's own, nginx, instances, a jobs worker.

Everything listens on 127.0.0.1 on spare ports and writes its output to the
run folder. Redis keeps an append-only file, so a SIGKILLed Redis comes back
with the sessions it held, as a production Redis does; PostgreSQL is a cluster
of the run's own (``initdb``), so restarting it disturbs no one else.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(ready: object, what: str, timeout: float = 60.0) -> None:
    """Poll ``ready()`` until it is true; ``RuntimeError`` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become ready within {timeout:.0f} s")
        time.sleep(0.1)


def answers_http(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
        return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer: it serves
    except OSError:
        return False


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class Service:
    """One child process that the chaos schedule may kill and start again."""

    def __init__(self, name: str, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.command = command
        self.log = log
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )

    @property
    def pid(self) -> int | None:
        return None if self.process is None or self.process.poll() is not None else self.process.pid

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer does."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


class RedisServer(Service):
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        data = folder / "redis"
        data.mkdir(exist_ok=True)
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(data)]
        command += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "yes"]
        super().__init__("redis", command, folder / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        super().start()
        wait_for(lambda: accepts(self.port), "redis-server")


class HttpService(Service):
    """A server answering HTTP on ``port``: an instance of the platform or of the bare app."""

    def __init__(self, name: str, command: list[str], log: Path, env: dict[str, str], port: int) -> None:
        super().__init__(name, command, log, env)
        self.port = port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()
        wait_for(lambda: answers_http(self.base + "/health/live") or self.pid is None, self.name)
        if self.pid is None:
            raise RuntimeError(f"{self.name} exited at start; see {self.log}")


class CpuHog(Service):
    """A process spinning on one core: other work on the machine, beside the fleet."""

    def __init__(self, folder: Path, number: int) -> None:
        super().__init__(f"cpu-hog-{number}", ["python3", "-c", "while True: pass"], folder / "cpu-hog.log")


def _postgres_bin(tool: str) -> str:
    found = shutil.which(tool) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"{tool} not found: apt-get install postgresql")
    return found


class PostgresServer:
    """A PostgreSQL cluster of the run's own, in a temporary folder (``initdb``, ``pg_ctl``)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.log = folder / "postgres.log"
        self.data = Path(tempfile.mkdtemp(prefix="fleet-pg-"))
        # PostgreSQL refuses to run as root: under root (CI containers) it runs as the postgres user.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            entry = pwd.getpwnam("postgres")
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
            self.log.touch()
            os.chown(self.log, entry.pw_uid, entry.pw_gid)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c max_connections=300 -c fsync=off"
        command = [*self._as, _postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o", options]
        subprocess.run([*command, *args], check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        command = [*self._as, _postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")
        shutil.rmtree(self.data, ignore_errors=True)
