"""Realtime fan-out: sheepfold-realtime vs bare BlackSheep WebSockets fed by a raw redis-py subscriber.

Both systems run as two uvicorn processes (uvloop, httptools, the same WebSocket
implementation) on one redis-server of the benchmark's own. WebSocket clients
(``--clients``, split evenly over the two instances, spread over client
processes) subscribe to one channel; a publisher sends messages straight to
Redis at a fixed rate, each carrying its number and its send time. Clients
(``lean_websocket``: they note when bytes arrive and parse nothing until the
run is over, so the latency measured is the servers', not the instrument's)
record what arrives; the servers' CPU time is read from ``/proc``.

Per system and rate it prints deliveries/s, p50/p99 publish-to-receive latency,
lost and duplicated deliveries, server CPU per delivery, and (at the overload
rate) the p99 of an HTTP route on instance A while it fans out. One extra
client on instance A connects and never reads (a stalled consumer); it is not
counted among the clients.

    python benchmarks/realtime.py                      # 1,000 clients, 10 msg/s and 200 msg/s
    python benchmarks/realtime.py --clients 400 --overload 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import lean_websocket
import redis
from harness import ADMIN_ENV, ROOT, free_port

CLIENT_PROCESSES = 4
SUBSCRIBE = b'{"type":"subscribe","channel":"platform"}'


# -- servers ------------------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    port = free_port()
    directory = tempfile.mkdtemp(prefix="bench-redis-")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", directory, "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _sheepfold_settings(directory: str, redis_url: str) -> str:
    keep = {"redis", "realtime"}
    disabled = sorted({ep.name for ep in metadata.entry_points(group="sheepfold.plugins")} - keep)
    path = Path(directory) / "settings.toml"
    path.write_text(
        f"""
[bench]
plugins = {{ disabled = {json.dumps(disabled)} }}
redis = {{ url = "{redis_url}", prefix = "bench", metrics_interval = 0 }}
pubsub = {{ backend = "redis", fallback = "memory" }}
realtime = {{ heartbeat_interval = 30.0, heartbeat_timeout = 120.0 }}
"""
    )
    return str(path)


@dataclass
class System:
    name: str
    app: str
    factory: bool
    channel: str  # the Redis channel the publisher sends to
    http_path: str  # the route probed under load
    subscribe: bool  # clients send a subscribe frame first
    uvicorn_options: tuple[str, ...] = ()  # beyond the flags both systems share

    def envelope(self, number: int, payload: bytes) -> bytes:
        # sheepfold's envelope: origin instance, that origin's per-channel number, the event's JSON.
        return b"bench-publisher\n%d\n%s" % (number, payload) if self.subscribe else payload

    def event(self, frame: dict) -> dict | None:
        if not self.subscribe:
            return frame
        return frame["data"] if frame.get("type") == "event" else None


def systems() -> list[System]:
    return [
        System("bare BlackSheep + redis-py", "benchmarks.apps.realtime_bare:app", False, "bench", "/ping", False),
        System(
            "sheepfold-realtime",
            "sheepfold.app:create_app",
            True,
            "sheepfold:bench:pubsub:platform",
            "/health/live",
            True,
            # What `sheepfold serve` does unless http.ws_per_message_deflate is set; the bare side keeps
            # uvicorn's default (compression on for clients that offer it, as the benchmark's do).
            ("--ws-per-message-deflate", "false"),
        ),
    ]


@contextlib.contextmanager
def instances(system: System, redis_url: str, count: int = 2) -> Iterator[list[tuple[str, int]]]:
    """``count`` uvicorn processes of ``system``; yields ``(host:port, pid)`` pairs."""
    with tempfile.TemporaryDirectory(prefix="bench-realtime-") as directory:
        env = {
            **os.environ,
            "PYTHONPATH": ROOT,
            "BENCH_REDIS_URL": redis_url,
            "BENCH_CHANNEL": system.channel,
            "SHEEPFOLD_ENV": "bench",
            **ADMIN_ENV,
            "SHEEPFOLD_SETTINGS_FILE": _sheepfold_settings(directory, redis_url),
        }
        processes, addresses = [], []
        for _ in range(count):
            port = free_port()
            command = [sys.executable, "-m", "uvicorn", system.app, "--port", str(port), "--log-level", "warning",
                       "--no-access-log", "--loop", "uvloop", "--http", "httptools",
                       "--ws", "websockets-sansio"]  # fmt: skip
            if system.factory:
                command.append("--factory")
            command += system.uvicorn_options
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env))
            addresses.append(f"127.0.0.1:{port}")
        try:
            for address, process in zip(addresses, processes, strict=True):
                deadline = time.monotonic() + 30
                while True:
                    try:
                        urllib.request.urlopen(f"http://{address}{system.http_path}", timeout=1).close()
                        break
                    except OSError:
                        if process.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError(f"{system.name} did not start") from None
                        time.sleep(0.1)
            yield [(address, process.pid) for address, process in zip(addresses, processes, strict=True)]
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- clients (separate processes) ---------------------------------------------------------------


def client_process(addresses: list[str], subscribe: bool, connection) -> None:
    """Open one socket per address, report ready, collect frames until told to stop, report them."""
    import uvloop

    uvloop.run(_clients(addresses, subscribe, connection))


async def _clients(addresses: list[str], subscribe: bool, connection) -> None:
    first_message = SUBSCRIBE if subscribe else None
    sockets: list[lean_websocket.ReceivingSocket] = []
    for index, address in enumerate(addresses):
        sockets.append(await lean_websocket.connect(address, first_message, ready_marker=b'"subscribed"'))
        if index % 50 == 49:
            await asyncio.sleep(0.05)  # do not flood the accept queue
    connection.send("ready")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, connection.recv)  # "stop"
    for socket_ in sockets:
        socket_.close()
    received: list[list[tuple[int, float]]] = []
    for socket_ in sockets:  # parsed after the run: the instrument spends nothing on it while measuring
        sink = []
        for arrived, raw in socket_.received:
            message = json.loads(raw)
            for frame in message if isinstance(message, list) else [message]:  # sheepfold batches backlogs
                data = frame.get("data") if subscribe else frame
                if isinstance(data, dict) and "n" in data:
                    sink.append((data["n"], arrived - data["t"]))
        received.append(sink)
    connection.send(received)


def stalled_client(address: str, subscribe: bool) -> socket.socket:
    """A socket that completes the handshake (and subscribes) and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = address.split(":")
    sock.connect((host, int(port)))
    sock.sendall(lean_websocket.upgrade_request(address, offer_deflate=False))
    sock.recv(1024)
    if subscribe:
        sock.sendall(lean_websocket.client_frame(0x1, SUBSCRIBE))
    return sock


# -- one run ------------------------------------------------------------------------------------


@dataclass
class Result:
    deliveries: int
    expected: int
    lost: int
    duplicated: int
    p50_ms: float
    p99_ms: float
    deliveries_per_s: float
    cpu_us_per_delivery: float
    http_p99_ms: float | None


def run(system: System, redis_url: str, clients: int, rate: float, seconds: float, probe_http: bool) -> Result:
    with instances(system, redis_url) as servers:
        addresses = [servers[i % 2][0] for i in range(clients)]
        stalled = stalled_client(servers[0][0], system.subscribe)
        pipes, workers = [], []
        for part in range(CLIENT_PROCESSES):
            ours, theirs = multiprocessing.Pipe()
            worker = multiprocessing.Process(
                target=client_process, args=(addresses[part::CLIENT_PROCESSES], system.subscribe, theirs)
            )
            worker.start()
            pipes.append(ours)
            workers.append(worker)
        for pipe in pipes:
            if not pipe.poll(120):
                raise RuntimeError("clients did not connect")
            pipe.recv()
        time.sleep(0.5)

        publisher = redis.Redis.from_url(redis_url)
        cpu_before = [cpu_seconds(pid) for _, pid in servers]
        probe = HttpProbe(f"http://{servers[0][0]}{system.http_path}") if probe_http else None
        count = int(rate * seconds)
        started = time.time()
        for number in range(count):
            delay = started + number / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            payload = json.dumps({"n": number, "t": time.time()}).encode()
            publisher.publish(system.channel, system.envelope(number + 1, payload))
        published_for = time.time() - started
        time.sleep(min(10.0, 2.0 + seconds))  # drain
        cpu_used = sum(cpu_seconds(pid) for _, pid in servers) - sum(cpu_before)
        http_p99 = probe.stop() if probe else None
        for pipe in pipes:
            pipe.send("stop")
        received = [entry for pipe in pipes for entry in pipe.recv()]
        for worker in workers:
            worker.join(timeout=30)
        stalled.close()
        publisher.close()

    latencies = [latency for sink in received for _, latency in sink]
    deliveries = sum(len(sink) for sink in received)
    unique = sum(len({n for n, _ in sink}) for sink in received)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return Result(
        deliveries=deliveries,
        expected=count * clients,
        lost=count * clients - unique,
        duplicated=deliveries - unique,
        p50_ms=quantiles[49] * 1000,
        p99_ms=quantiles[98] * 1000,
        deliveries_per_s=deliveries / max(published_for, 1e-9),
        cpu_us_per_delivery=cpu_used / max(deliveries, 1) * 1e6,
        http_p99_ms=http_p99,
    )


class HttpProbe:
    """GETs ``url`` every 50 ms on a thread; :meth:`stop` gives the p99 latency in ms (timeouts count as 5 s)."""

    def __init__(self, url: str) -> None:
        import threading

        self.url = url
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                urllib.request.urlopen(self.url, timeout=5).close()
                self.samples.append(time.perf_counter() - started)
            except OSError:
                self.samples.append(5.0)
            self._stop.wait(0.05)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=10)
        return statistics.quantiles(self.samples, n=100)[98] * 1000 if len(self.samples) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--light", type=float, default=10.0, help="messages per second of the light run")
    parser.add_argument("--overload", type=float, default=200.0, help="messages per second of the overload run")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    with redis_server() as redis_url:
        results: dict[tuple[str, str], Result] = {}
        runs = [("light", args.light, args.seconds), ("overload", args.overload, args.seconds / 2)]
        for label, rate, seconds in runs:
            for system in systems():
                result = run(system, redis_url, args.clients, rate, seconds, probe_http=label == "overload")
                results[(label, system.name)] = result
                http = f", HTTP p99 {result.http_p99_ms:.0f} ms" if result.http_p99_ms is not None else ""
                print(
                    f"{label:8} {rate:6.0f} msg/s  {system.name:28} {result.deliveries_per_s:9.0f} deliveries/s  "
                    f"p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:8.1f} ms  lost {result.lost:7}  "
                    f"dup {result.duplicated:3}  CPU {result.cpu_us_per_delivery:6.1f} µs/delivery{http}",
                    flush=True,
                )
        bare, ours = (s.name for s in systems())
        print(f"\n{args.clients} clients over 2 instances; ratios sheepfold / bare:")
        for label in ("light", "overload"):
            a, b = results[(label, bare)], results[(label, ours)]
            print(
                f"  {label:8} CPU per delivery {b.cpu_us_per_delivery / a.cpu_us_per_delivery:5.2f} "
                f"(goal ≤ 1.25 at light)  deliveries/s {b.deliveries_per_s / max(a.deliveries_per_s, 1e-9):5.2f} "
                f"(goal > 1 at overload)  p99 {b.p99_ms:.1f} ms vs {a.p99_ms:.1f} ms"
            )


if __name__ == "__main__":
    main()
