"""Requests/s of a rate-limited route: sheepfold's limiter against bare BlackSheep, Redis and memory.

Two comparisons in one run, each under the same uvicorn (uvloop, httptools,
one process, pinned to core 0) and the same wrk load (pinned to core 1),
interleaved over several rounds (median):

- Redis: sheepfold with the rate-limit plugin on Redis (one EVALSHA per
  request, through the fallback switch, with key extraction, the IETF
  headers and the kernel's metrics) against bare BlackSheep running the same
  Lua script with one raw ``EVALSHA`` per request. Goal >= 0.9.
- memory: sheepfold with the rate-limit plugin on its memory adapter
  against a bare BlackSheep route. Goal >= 0.9. This ratio includes the
  kernel's own cost per request (metrics middleware, problem handlers),
  which ``http_kernel.py`` measures alone, so the same sheepfold route
  without a limiter is measured too: the last ratio is the limiter's own cost.

Every request is admitted (the limit is far above the load). Redis is a
``redis-server`` this script starts on a spare loopback port and stops
afterwards (or ``--redis-url``, whose keys under a fresh prefix are removed
afterwards), so other users of the machine's Redis do not disturb the run.

    .venv/bin/python benchmarks/ratelimit.py [--seconds 4] [--rounds 5] [--connections 64]
"""

from __future__ import annotations

import argparse
import contextlib
import secrets

import redis
from harness import Comparison, compare, private_redis, serve, wrk

APPS = "benchmarks.apps.ratelimit_routes"
PATH = "/limited"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--redis-url", default="", help="an existing Redis (default: start a private one)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        redis_url = args.redis_url or stack.enter_context(private_redis())
        results = measure(args, redis_url)
    for name, rps in results.items():
        print(f"{name:<30} {rps:>10,.0f} requests/s")
    on_redis = results.ratio("sheepfold limiter on Redis", "bare BlackSheep + raw EVALSHA")
    on_memory = results.ratio("sheepfold limiter on memory", "bare BlackSheep route")
    limiter_only = results.ratio("sheepfold limiter on memory", "sheepfold route, no limiter")
    print(f"ratio Redis limiter / raw EVALSHA:  {on_redis:.3f} (goal >= 0.9)")
    print(f"ratio memory limiter / bare route:  {on_memory:.3f} (goal >= 0.9)")
    print(f"ratio memory limiter / the same sheepfold route unlimited: {limiter_only:.3f} (the limiter's own cost)")


def measure(args: argparse.Namespace, redis_url: str) -> Comparison:
    prefix = f"bench-{secrets.token_hex(4)}"
    env = {"BENCH_REDIS_URL": redis_url, "BENCH_PREFIX": prefix, "SHEEPFOLD_ENV": "production"}

    def load(url: str):
        return lambda: wrk(url + PATH, seconds=args.seconds, connections=args.connections)

    try:
        with (
            serve(f"{APPS}:bare_evalsha", factory=True, env=env, ready_path=PATH) as bare_evalsha,
            serve(f"{APPS}:sheepfold_redis", factory=True, env=env, ready_path=PATH) as sheepfold_redis,
            serve(f"{APPS}:bare_route", factory=True, env=env, ready_path=PATH) as bare_route,
            serve(f"{APPS}:sheepfold_memory", factory=True, env=env, ready_path=PATH) as sheepfold_memory,
            serve(f"{APPS}:sheepfold_unlimited", factory=True, env=env, ready_path=PATH) as sheepfold_unlimited,
        ):
            for url in (bare_evalsha, sheepfold_redis, bare_route, sheepfold_memory, sheepfold_unlimited):  # warm up
                wrk(url + PATH, seconds=1, connections=args.connections)
            results = compare(
                args.rounds,
                {
                    "bare BlackSheep + raw EVALSHA": load(bare_evalsha),
                    "sheepfold limiter on Redis": load(sheepfold_redis),
                    "bare BlackSheep route": load(bare_route),
                    "sheepfold limiter on memory": load(sheepfold_memory),
                    "sheepfold route, no limiter": load(sheepfold_unlimited),
                },
            )
    finally:
        _remove_keys(redis_url, prefix)
    return results


def _remove_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        names = list(client.scan_iter(match=f"sheepfold:{prefix}:*", count=500))
        if names:
            client.unlink(*names)
    finally:
        client.close()


if __name__ == "__main__":
    main()
