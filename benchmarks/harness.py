"""Serving an ASGI app under uvicorn and loading it with wrk: the shared half of every HTTP benchmark.

The server runs pinned to core 0 and wrk to core 1 (when the machine has two),
so the two sides do not fight over one core and runs are comparable.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Outside development the admin surface needs a token; the benchmarks' servers get this one.
ADMIN_TOKEN = "benchmark-only-admin-token-0123456789abcdef"
ADMIN_ENV = {"SHEEPFOLD_ADMIN__TOKEN": ADMIN_TOKEN}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pinned(core: int, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core), *command]
    return command


@contextlib.contextmanager
def serve(
    app: str, *, factory: bool = False, env: dict[str, str] | None = None, ready_path: str = "/"
) -> Iterator[str]:
    """Run ``uvicorn app`` (an import string) on a free port; yields its base URL."""
    with server_process(app, factory=factory, env=env, ready_path=ready_path) as (base, _process):
        yield base


@contextlib.contextmanager
def server_process(
    app: str,
    *,
    factory: bool = False,
    env: dict[str, str] | None = None,
    ready_path: str = "/",
    launcher: tuple[str, ...] = (),
    start_timeout: float = 30,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """:func:`serve`, run under ``launcher`` (such as valgrind); yields the base URL and the server's process.

    The process id is the server's own: ``taskset`` and ``valgrind`` exec what they launch.
    """
    port = free_port()
    command = [
        *launcher,
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    if factory:
        command.append("--factory")
    # Ahead of what PYTHONPATH already holds: the sources of another checkout, to measure it with this harness.
    python_path = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    server = subprocess.Popen(
        _pinned(0, command), cwd=ROOT, env={**os.environ, "PYTHONPATH": python_path, **ADMIN_ENV, **(env or {})}
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                urllib.request.urlopen(base + ready_path, timeout=5).close()
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer means the server is up
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{app} did not start") from None
                time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=15 + start_timeout)


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A ``redis-server`` on a spare loopback port, without persistence; its URL."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


def wrk(
    url: str, *, seconds: int = 5, connections: int = 64, threads: int = 1, headers: dict[str, str] | None = None
) -> float:
    """Requests per second that wrk measured against ``url``, sending ``headers`` with every request."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    header_options = [option for name, value in (headers or {}).items() for option in ("-H", f"{name}: {value}")]
    output = subprocess.run(
        _pinned(1, ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", *header_options, url]),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise RuntimeError(f"{url} answered {non_2xx.group(1)} errors under load:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


class Comparison(dict[str, float]):
    """The median rate of each side (``results[name]``), and :meth:`ratio` of two sides."""

    def __init__(self, samples: dict[str, list[float]]) -> None:
        super().__init__({name: statistics.median(values) for name, values in samples.items()})
        self.samples = samples

    def ratio(self, side: str, baseline: str) -> float:
        """The median over rounds of ``side / baseline``, each measured back to back in one round.

        The machine's speed drifts between rounds; a ratio of two rates taken
        moments apart is steadier than the ratio of two medians.
        """
        return statistics.median(a / b for a, b in zip(self.samples[side], self.samples[baseline], strict=True))


def compare(rounds: int, measure: dict[str, callable]) -> Comparison:
    """``rounds`` interleaved measurements per name (interleaving spreads machine noise evenly)."""
    samples: dict[str, list[float]] = {name: [] for name in measure}
    for _ in range(rounds):
        for name, run in measure.items():
            samples[name].append(run())
    return Comparison(samples)


@contextlib.contextmanager
def otlp_sink() -> Iterator[str]:
    """An HTTP server on loopback (a thread of this process) that answers every OTLP/HTTP export with 200; its URL.

    What a collector does with the spans is not the platform's cost: the sink reads and drops them.
    """

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
