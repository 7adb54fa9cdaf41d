"""Requests/s of a session-reading route and of a cached route (hit), sheepfold on Redis vs bare BlackSheep + one GET.

Under the same uvicorn (uvloop, httptools, one process, pinned to core 0) and
wrk (pinned to core 1), interleaved over several rounds (median):

- session: sheepfold's ``GET /session`` reading ``request.session`` of a
  signed-in user (cookie check, one EVALSHA read-and-touch through the
  fallback switch, JSON decode, the kernel's middlewares) against bare
  BlackSheep doing one raw redis-py ``GET`` per request. Goal >= 0.85.
- cached: sheepfold's cached ``GET /cached`` answered from the Redis cache
  (anonymous: one HGET) against the same bare route. Goal >= 0.85.
- cached, signed in: the same cached route with the session cookie (a
  session read, then the cache read: two round trips). For information.

Keys go under a fresh prefix on ``--redis-url`` and are removed afterwards.

    .venv/bin/python benchmarks/sessions_cache.py [--seconds 5] [--rounds 3] [--connections 64]
"""

from __future__ import annotations

import argparse
import secrets
import urllib.request

import redis
from harness import compare, serve, wrk

APPS = "benchmarks.apps.sessions_cache_routes"
COOKIE = "__Host-session"


def signed_in_cookie(base: str) -> str:
    """Log in on the sheepfold app and return the session cookie header value."""
    request = urllib.request.Request(base + "/login", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=5) as response:
        for header in response.headers.get_all("set-cookie"):
            if header.startswith(COOKIE + "="):
                return header.split(";")[0]
    raise RuntimeError("login set no session cookie")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    prefix = f"bench-{secrets.token_hex(4)}"
    env = {"BENCH_REDIS_URL": args.redis_url, "BENCH_PREFIX": prefix, "SHEEPFOLD_ENV": "production"}

    def load(url: str, seconds: int = args.seconds, **headers: str):
        return lambda: wrk(url, seconds=seconds, connections=args.connections, headers=headers)

    try:
        with (
            serve(f"{APPS}:bare_get", factory=True, env=env, ready_path="/session") as bare,
            serve(f"{APPS}:sheepfold_on_redis", factory=True, env=env, ready_path="/health/live") as platform,
        ):
            cookie = signed_in_cookie(platform)
            targets = {
                "bare BlackSheep + GET": (bare + "/session", {}),
                "sheepfold session": (platform + "/session", {"Cookie": cookie}),
                "sheepfold cached": (platform + "/cached", {}),
                "sheepfold cached, signed in": (platform + "/cached", {"Cookie": cookie}),
            }
            for url, headers in targets.values():  # warm up (and fill the cache)
                load(url, 1, **headers)()
            results = compare(args.rounds, {name: load(url, **headers) for name, (url, headers) in targets.items()})
    finally:
        client = redis.Redis.from_url(args.redis_url)
        names = list(client.scan_iter(match=f"sheepfold:{prefix}:*", count=500))
        if names:
            client.unlink(*names)
        client.close()

    for name, rps in results.items():
        print(f"{name:<28} {rps:>10,.0f} requests/s")
    for name, goal in (("sheepfold session", 0.85), ("sheepfold cached", 0.85), ("sheepfold cached, signed in", None)):
        suffix = f" (goal >= {goal})" if goal else " (two round trips; for information)"
        print(f"ratio {name} / bare BlackSheep + GET: {results.ratio(name, 'bare BlackSheep + GET'):.3f}{suffix}")


if __name__ == "__main__":
    main()
