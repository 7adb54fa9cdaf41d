"""A session-reading route and a cached route from sheepfold on Redis, and bare BlackSheep doing one raw GET.

``BENCH_REDIS_URL`` and ``BENCH_PREFIX`` (environment) choose the Redis
server and the key prefix.
"""

from __future__ import annotations

import os

from blacksheep import Application, Request, Router, json, text

import sheepfold_sessions.plugin as sessions_plugin
from sheepfold import create_app, hookimpl
from sheepfold.cache import ResponseCache
from sheepfold_redis import RedisSettings
from sheepfold_redis import plugin as redis_plugin
from sheepfold_redis.client import build_client

SECRET = "benchmark-only-secret-0123456789abcdefghij"
#: One pooled connection per wrk connection, and patience for one on a busy machine, on both sides:
#: the benchmark measures work per request, not how an exhausted pool refuses.
POOL = {"pool_size": 64, "pool_timeout": 5.0}


def _redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def _prefix() -> str:
    return os.environ.get("BENCH_PREFIX", "bench")


def bare_get() -> Application:
    """Bare BlackSheep: ``GET /session`` and ``GET /cached`` each do one raw redis-py GET.

    The client is built with sheepfold's options (``build_client``), so the
    comparison measures what sheepfold adds, not how two clients are tuned.
    """
    app = Application(router=Router())
    client, _sentinel = build_client(RedisSettings(url=_redis_url(), **POOL))
    key = f"sheepfold:{_prefix()}:bare"

    async def seed(_app: Application) -> None:
        await client.set(key, b'{"user":"alice"}')

    async def one_get() -> object:
        return text((await client.get(key) or b"").decode())

    async def close(_app: Application) -> None:
        await client.aclose()

    app.router.add_get("/session", one_get)
    app.router.add_get("/cached", one_get)
    app.on_start += seed
    app.on_stop += close
    return app


class BenchRoutes:
    name = "bench-sessions-cache"

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: object) -> None:
        responses = ResponseCache.of(platform)

        async def login(request: Request) -> object:
            request.session["user"] = "alice"
            return text("ok")

        async def session(request: Request) -> object:
            return text(str(request.session.get("user")))

        async def cached(request: Request) -> object:
            return json({"user": request.session.get("user"), "greeting": "hello"})

        router.add_post("/login", login)
        router.add_get("/session", session)
        router.add_get("/cached", responses.cached(cached, namespace="bench", ttl=3600))


def sheepfold_on_redis() -> Application:
    """sheepfold with sessions and the cache on Redis (memory as fallback), production settings."""
    settings = {
        "redis": {"url": _redis_url(), "prefix": _prefix(), **POOL},
        "sessions": {"backend": "redis", "fallback": "memory", "secret": SECRET},
        "cache": {"backend": "redis", "fallback": "memory"},
    }
    return create_app(settings, plugins=[redis_plugin, sessions_plugin, BenchRoutes()], load_entry_points=False)
