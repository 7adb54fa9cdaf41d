"""User-space instructions per request of the HTTP benchmarks' servers, counted by callgrind.

Wall-clock ratios move with whatever else the machine runs; an instruction count does
not. Each server runs under uvicorn (uvloop, httptools) inside ``valgrind
--tool=callgrind`` with instrumentation off; after a warm-up, instrumentation is
switched on, ``--requests`` requests are sent by ``h2load`` over ``--connections``
keep-alive HTTP/1.1 connections, the counters are dumped, and the total is divided by
the requests. System calls (the kernel's side of the sockets) are not counted, and
neither is Redis: what is compared is the Python process's own work per request.

    .venv/bin/python benchmarks/instructions.py [plain telemetry ratelimit sessions database] [--requests N]

Needs ``valgrind`` and ``h2load`` (apt-get install valgrind nghttp2-client). Each server
takes a minute or two under callgrind. ``--keep DIR`` keeps the callgrind files, for
``callgrind_annotate`` (where the instructions go).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from collections.abc import Iterator

from harness import ADMIN_ENV, ADMIN_TOKEN, otlp_sink, private_redis, server_process
from sessions_cache import signed_in_cookie

PYTHON_ENV = {"PYTHONHASHSEED": "0"}  # one dict layout in every run


@dataclasses.dataclass(frozen=True)
class Target:
    """One route of one server: what a row of the table counts."""

    name: str
    path: str
    cookie: bool = False  # send the signed-in session cookie (got from POST /login)
    watch: str = ""  # a path GET once a second (admin token) while counted: a console page left open


@dataclasses.dataclass(frozen=True)
class Server:
    """An app (a factory's import string) and the routes counted on it."""

    app: str
    targets: tuple[Target, ...]
    ready_path: str = "/"


def one_route(app: str, name: str, path: str) -> Server:
    """A server counted on one route, which also tells when it is up."""
    return Server(app, (Target(name, path),), path)


PLAIN = "benchmarks.apps.plain_text"
LIMITED = "benchmarks.apps.ratelimit_routes"
SESSIONS = "benchmarks.apps.sessions_cache_routes"
DATABASE = "benchmarks.apps.database_routes"
SUITES: dict[str, tuple[Server, ...]] = {
    "plain": (
        one_route(f"{PLAIN}:bare", "bare BlackSheep, plain text", "/plain"),
        one_route(f"{PLAIN}:platform", "sheepfold kernel, plain text", "/plain"),
        Server(
            f"{PLAIN}:platform_with_console",
            (
                Target("sheepfold kernel + console, nobody watching, plain text", "/plain"),
                Target("sheepfold kernel + console open, plain text", "/plain", watch="/-/console/api/snapshot"),
            ),
            "/plain",
        ),
    ),
    "telemetry": (
        one_route(f"{PLAIN}:bare", "bare BlackSheep, plain text", "/plain"),
        one_route(f"{PLAIN}:platform", "sheepfold kernel, plain text", "/plain"),
        one_route(f"{PLAIN}:platform_with_telemetry_unsampled", "sheepfold + telemetry, sampling 0", "/plain"),
        one_route(f"{PLAIN}:platform_with_telemetry_sampled", "sheepfold + telemetry, sampling 1 (OTLP)", "/plain"),
    ),
    "ratelimit": (
        one_route(f"{LIMITED}:bare_route", "bare route", "/limited"),
        one_route(f"{LIMITED}:sheepfold_unlimited", "sheepfold route, limiter middleware, no limit", "/limited"),
        one_route(f"{LIMITED}:sheepfold_memory", "sheepfold memory limiter", "/limited"),
        one_route(f"{LIMITED}:bare_evalsha", "bare + raw EVALSHA", "/limited"),
        one_route(f"{LIMITED}:sheepfold_redis", "sheepfold Redis limiter", "/limited"),
    ),
    "sessions": (
        one_route(f"{SESSIONS}:bare_get", "bare + raw GET", "/session"),
        Server(
            f"{SESSIONS}:sheepfold_on_redis",
            (
                Target("sheepfold session read (cookie)", "/session", cookie=True),
                Target("sheepfold cached route, hit (no cookie)", "/cached"),
                Target("sheepfold cached route, hit, signed in", "/cached", cookie=True),
            ),
            "/health/live",
        ),
    ),
    "database": (
        one_route(f"{DATABASE}:bare", "bare + raw asyncpg fetchval", "/select"),
        Server(
            f"{DATABASE}:bare_sqlalchemy",
            (
                Target("bare + SQLAlchemy AsyncSession, SELECT 1", "/select"),
                Target("bare + SQLAlchemy AsyncSession, ORM select", "/orm"),
            ),
            "/select",
        ),
        Server(
            f"{DATABASE}:platform",
            (
                Target("sheepfold AsyncSession, SELECT 1", "/select"),
                Target("sheepfold AsyncSession, ORM select", "/orm"),
                Target("sheepfold driver_connection, fetchval", "/select-driver"),
            ),
            "/health/live",
        ),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", default=list(SUITES), help=f"any of {', '.join(SUITES)} (default: all)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--keep", default="", help="a folder to keep the callgrind files in")
    args = parser.parse_args()
    unknown = set(args.suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown suites {sorted(unknown)}; known: {', '.join(SUITES)}")
    for tool in ("valgrind", "callgrind_control", "h2load"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install valgrind nghttp2-client)")
    out_dir = args.keep or tempfile.mkdtemp(prefix="sheepfold-callgrind-")
    os.makedirs(out_dir, exist_ok=True)
    # Redis's own work is not counted, nor the OTLP sink's (it runs here); a private Redis keeps others' keys apart.
    with private_redis() as redis_url, otlp_sink() as otlp_url:
        env = {**PYTHON_ENV, **ADMIN_ENV, "SHEEPFOLD_ENV": "production", "BENCH_REDIS_URL": redis_url,
               "BENCH_OTLP_URL": otlp_url}  # fmt: skip
        for suite in args.suites:
            for server in SUITES[suite]:
                for name, per_request in count(server, env, out_dir, args):
                    print(f"{name:<48} {per_request:>10,.0f} instructions/request", flush=True)
    if not args.keep:
        shutil.rmtree(out_dir, ignore_errors=True)


def count(server: Server, env: dict[str, str], out_dir: str, args: argparse.Namespace) -> Iterator[tuple[str, float]]:
    """Instructions per request of each of ``server``'s targets."""
    stem = re.sub(r"\W+", "-", server.app.rsplit(".", 1)[-1])
    launcher = (
        "valgrind",
        "--tool=callgrind",
        "--quiet",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir}/{stem}.%p",
    )
    with server_process(
        server.app, factory=True, env=env, ready_path=server.ready_path, launcher=launcher, start_timeout=300
    ) as (base, process):
        cookie = signed_in_cookie(base) if any(target.cookie for target in server.targets) else ""
        for target in server.targets:
            headers = {"Cookie": cookie} if target.cookie else {}
            _load(base + target.path, args.warmup, args.connections, headers)
            with _watching(base + target.watch if target.watch else ""):
                _control(process.pid, "--instr=on")
                _control(process.pid, "--zero")
                _load(base + target.path, args.requests, args.connections, headers)
                _control(process.pid, "--dump")
                _control(process.pid, "--instr=off")
            yield target.name, _last_dump_total(out_dir, stem, process.pid) / args.requests


@contextlib.contextmanager
def _watching(url: str) -> Iterator[None]:
    """GET ``url`` with the admin token once a second in a thread until the block ends (nothing when empty).

    Its requests are counted with the measured ones: the cost of an open console, spread over them.
    """
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(1.0):
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()

    watcher = threading.Thread(target=poll, daemon=True)
    if url:
        watcher.start()
    try:
        yield
    finally:
        stop.set()
        if url:
            watcher.join()


def _control(pid: int, option: str) -> None:
    subprocess.run(["callgrind_control", option, str(pid)], check=True, capture_output=True)


def _load(url: str, requests: int, connections: int, headers: dict[str, str]) -> None:
    """``requests`` GETs of ``url`` by h2load over HTTP/1.1 keep-alive; every one must answer 2xx."""
    options = [option for name, value in headers.items() for option in ("-H", f"{name}: {value}")]
    output = subprocess.run(
        ["h2load", "--h1", "-n", str(requests), "-c", str(connections), *options, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    status = re.search(r"status codes: (\d+) 2xx", output)
    if status is None or int(status.group(1)) != requests:
        raise RuntimeError(f"{url}: not every request answered 2xx:\n{output}")


def _last_dump_total(out_dir: str, stem: str, pid: int) -> int:
    """The ``totals:`` line of the newest dump callgrind wrote for ``pid``."""
    dumps = glob.glob(f"{out_dir}/{stem}.{pid}.*")
    newest = max(dumps, key=lambda path: int(path.rsplit(".", 1)[1]))
    with open(newest) as dump:
        for line in dump:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"{newest} has no totals line")


if __name__ == "__main__":
    main()
