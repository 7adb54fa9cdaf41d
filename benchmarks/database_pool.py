"""Requests/s of one SELECT route: sheepfold's engine against bare BlackSheep on a raw asyncpg pool.

Both apps run under the same uvicorn (uvloop, httptools, one process), hold a
pool of the same size (``--pool-size``, no overflow) to the same PostgreSQL,
and are loaded by wrk on loopback with more connections than the pool has
(``--connections``), interleaved over several rounds. sheepfold is measured
on two routes of one app, both on its watched, pre-pinged pool:

- ``session``: the handler declares ``session: AsyncSession`` and runs
  ``session.execute(text("SELECT 1"))``, the idiomatic SQLAlchemy path
  (BEGIN, SELECT, ROLLBACK on close);
- ``driver``: ``async with database.driver_connection()`` borrows the asyncpg
  connection from the same pool and runs ``fetchval``, as the bare app does.

- ``orm``: the same session reads one row of a mapped class
  (``select(BenchItem)``, ``benchmarks/apps/database_routes.py``).

A third app, bare BlackSheep with SQLAlchemy's own engine and AsyncSession,
runs the session and ORM routes without sheepfold: it tells what SQLAlchemy's
session costs (three round trips and the ORM's work) from what sheepfold adds
(its N+1 watch, statement timeout, pre-ping and pool monitor on).

Goals: ``driver_connection()`` >= 0.8 x bare asyncpg; the session and ORM
routes >= 0.95 x the same routes on SQLAlchemy alone. Prints the rates, the
ratios, and each pool's peak use. On a busy machine count instructions
instead (``benchmarks/instructions.py database``).

    .venv/bin/python benchmarks/database_pool.py [--seconds 5] [--rounds 3] [--connections 64] [--pool-size 10]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import urllib.request

from harness import ADMIN_TOKEN, compare, serve, wrk


def sheepfold_peak(base: str) -> tuple[int, int]:
    request = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    metrics = urllib.request.urlopen(request, timeout=5).read().decode()
    peak = re.search(r"^sheepfold_database_pool_peak_checked_out ([\d.]+)$", metrics, re.MULTILINE)
    size = re.search(r"^sheepfold_database_pool_size ([\d.]+)$", metrics, re.MULTILINE)
    return int(float(peak.group(1))), int(float(size.group(1)))


def bare_peak(base: str) -> tuple[int, int]:
    answer = json.loads(urllib.request.urlopen(base + "/peak", timeout=5).read())
    return answer["peak"], answer["size"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--no-pre-ping", action="store_true", help="sheepfold without its pre-ping")
    parser.add_argument(
        "--url",
        default=os.environ.get("SHEEPFOLD_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    if args.connections <= args.pool_size:
        parser.error("--connections must exceed --pool-size: the point is callers queueing for the pool")
    env = {
        "BENCH_POSTGRES_URL": args.url,
        "BENCH_POOL_SIZE": str(args.pool_size),
        "BENCH_PRE_PING": "false" if args.no_pre_ping else "true",
        "SHEEPFOLD_ENV": "production",
    }
    with (
        serve("benchmarks.apps.database_routes:bare", factory=True, env=env, ready_path="/peak") as bare_url,
        serve("benchmarks.apps.database_routes:platform", factory=True, env=env, ready_path="/health/live") as sf_url,
        serve("benchmarks.apps.database_routes:bare_sqlalchemy", factory=True, env=env, ready_path="/select") as sa_url,
    ):
        routes = {
            "bare asyncpg": bare_url + "/select",
            "bare SQLAlchemy session": sa_url + "/select",
            "sheepfold session": sf_url + "/select",
            "bare SQLAlchemy ORM": sa_url + "/orm",
            "sheepfold ORM": sf_url + "/orm",
            "sheepfold driver": sf_url + "/select-driver",
        }
        for url in routes.values():  # warm up
            wrk(url, seconds=1, connections=args.connections)
        results = compare(
            args.rounds,
            {
                name: functools.partial(wrk, url, seconds=args.seconds, connections=args.connections)
                for name, url in routes.items()
            },
        )
        bare_use, sheepfold_use = bare_peak(bare_url), sheepfold_peak(sf_url)
    pre_ping = "off" if args.no_pre_ping else "on"
    print(f"one SELECT per request, pool of {args.pool_size}, {args.connections} wrk connections, pre-ping {pre_ping}")
    for name, rps in results.items():
        print(f"{name:<24} {rps:>10,.0f} requests/s")
    for name, (peak, size) in (("bare asyncpg", bare_use), ("sheepfold", sheepfold_use)):
        print(f"pool peak use, {name:<12} {peak}/{size} ({100 * peak / size:.0f} %)")
    driver = results.ratio("sheepfold driver", "bare asyncpg")
    print(f"ratio sheepfold driver / bare asyncpg: {driver:.3f} (goal >= 0.8)")
    alone = results.ratio("bare SQLAlchemy session", "bare asyncpg")
    print(f"ratio bare SQLAlchemy session / bare asyncpg: {alone:.3f} (what SQLAlchemy's session costs)")
    for side, baseline in (("sheepfold session", "bare SQLAlchemy session"), ("sheepfold ORM", "bare SQLAlchemy ORM")):
        print(f"ratio {side} / {baseline}: {results.ratio(side, baseline):.3f} (goal >= 0.95)")


if __name__ == "__main__":
    main()
