"""One route five ways: sheepfold limiting it on Redis, on memory, not at all; bare BlackSheep with and without EVALSHA.

Every side admits every request (the limit is far above what a benchmark
sends), so all answer 200 and the comparison is of the work per admitted
request. ``BENCH_REDIS_URL`` and ``BENCH_PREFIX`` (environment) choose the
Redis server and the key prefix of the Redis sides.
"""

from __future__ import annotations

import os

from blacksheep import Application, Router, text

import sheepfold_ratelimit.plugin as ratelimit_plugin
from sheepfold import create_app, hookimpl
from sheepfold.ratelimit import RateLimitWindow
from sheepfold_redis import RedisSettings
from sheepfold_redis import plugin as redis_plugin
from sheepfold_redis.client import build_client
from sheepfold_redis.ratelimit import _HIT as SLIDING_LOG_SCRIPT  # the very script the adapter runs

LIMIT = "1000000/second"
PATH = "/limited"


async def limited() -> object:
    return text("ok")


def _redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def _prefix() -> str:
    return os.environ.get("BENCH_PREFIX", "bench")


def bare_route() -> Application:
    """Bare BlackSheep, no limiter: the baseline of the memory limiter."""
    app = Application(router=Router())
    app.router.add_get(PATH, limited)
    return app


def bare_evalsha() -> Application:
    """Bare BlackSheep running the rate-limit script with one raw ``EVALSHA`` per request.

    The redis-py client is built with the same options as sheepfold's
    (``build_client``: pool size, socket timeouts, retry), so the comparison
    measures what sheepfold adds per request, not how the two clients are tuned.
    """
    app = Application(router=Router())
    client, _sentinel = build_client(RedisSettings(url=_redis_url()))
    window = RateLimitWindow.parse(LIMIT)
    tag = f"{{bench:ip:127.0.0.1}}:rl:bare-{_prefix()}"
    keys_and_arguments = [
        f"sheepfold:{_prefix()}:{tag}:p",
        f"sheepfold:{_prefix()}:{tag}:0",
        *[1, 0, 1, 0, 0, window.limit, int(window.seconds * 1_000_000)],
    ]
    script = client.register_script(SLIDING_LOG_SCRIPT)  # EVALSHA, reloaded on NOSCRIPT

    async def limited_by_script() -> object:
        await script(keys=keys_and_arguments[:2], args=keys_and_arguments[2:])
        return text("ok")

    async def close(_app: Application) -> None:
        await client.aclose()

    app.router.add_get(PATH, limited_by_script)
    app.on_stop += close
    return app


class LimitedRoutePlugin:
    name = "bench-limited-route"

    @hookimpl
    def sheepfold_register_routes(self, router: Router) -> None:
        router.add_get(PATH, limited)


def _sheepfold(backend: str, *, limited: bool = True) -> Application:
    settings = {
        "ratelimit": {
            "backend": backend,
            "fallback": "memory",
            "default_policy": "",
            "routes": {PATH: "bench"} if limited else {},
            "policies": {"bench": {"limit": LIMIT}},
        },
        "redis": {"url": _redis_url(), "prefix": _prefix()},
    }
    return create_app(settings, plugins=[ratelimit_plugin, redis_plugin, LimitedRoutePlugin()], load_entry_points=False)


def sheepfold_redis() -> Application:
    """sheepfold with the rate-limit plugin on Redis (memory as fallback)."""
    return _sheepfold("redis")


def sheepfold_memory() -> Application:
    """sheepfold with the rate-limit plugin on its memory adapter."""
    return _sheepfold("memory")


def sheepfold_unlimited() -> Application:
    """The same sheepfold app with the route left unlimited: what the limiter itself costs."""
    return _sheepfold("memory", limited=False)
