"""plugin-redis in an app: providers, health, metrics, start-up without Redis, and the hooks it implements."""

from __future__ import annotations

import asyncio
import time

from blacksheep.testing import TestClient

from sheepfold import State
from sheepfold_redis import RedisConnection
from sheepfold_redis.cache import RedisCache
from sheepfold_redis.state import RedisState
from tests.redis.conftest import redis_backed, running_app
from tests.support.admin import ADMIN_HEADERS
from tests.support.redis_adapters import remove_namespace
from tests.support.redis_server import RedisServer


async def health(app) -> dict:
    response = await TestClient(app).get("/health", headers=ADMIN_HEADERS)
    return await response.json()


async def test_settings_choose_the_redis_adapters_on_one_shared_connection(redis_url):
    async with running_app(redis_backed(redis_url)) as app:
        state, cache = app.platform.capabilities["state"], app.platform.capabilities["cache"]
        assert isinstance(state.backend, RedisState) and isinstance(cache.backend, RedisCache)
        assert state.backend.connection is cache.backend.connection is app.platform.require(RedisConnection)
        await app.platform.require(State).set("k", b"v")
        connection = app.platform.require(RedisConnection)
        assert await connection.client.get(connection.namespace + "state:k") == b"v"
        await remove_namespace(connection)


async def test_hook_health_reports_reachability_latency_version_and_pool(redis_url):
    async with running_app(redis_backed(redis_url)) as app:
        report = await health(app)
        assert report["status"] == "ok"
        redis = report["components"]["redis"]
        assert redis["status"] == "ok" and redis["reachable"] is True
        assert redis["latency_ms"] > 0 and redis["version"]
        assert redis["pool"]["size"] == 20 and redis["pool"]["in_use"] == 0
        await app.platform.require(State).get("k")
        redis = (await health(app))["components"]["redis"]
        assert redis["multiplexed"] == {"connected": True, "waiting": 0}


async def test_metrics_show_redis_up_latency_and_pool(redis_url):
    async with running_app(redis_backed(redis_url)) as app:
        await health(app)
        text = await (await TestClient(app).get("/metrics", headers=ADMIN_HEADERS)).text()
        assert "sheepfold_redis_up 1.0" in text
        assert "sheepfold_redis_ping_seconds" in text
        assert 'sheepfold_redis_pool_connections{state="free"}' in text


async def test_an_unused_plugin_opens_nothing_and_reports_nothing():
    async with running_app({}) as app:
        assert app.platform.find(RedisConnection) is None
        assert "redis" not in (await health(app))["components"]


async def test_hook_startup_without_redis_serves_from_memory_and_moves_to_redis_when_it_comes_up(unused_port):
    server = RedisServer(unused_port)
    async with running_app(redis_backed(server.url)) as app:
        report = await health(app)
        assert report["status"] == "degraded"
        assert report["components"]["redis"]["reachable"] is False
        assert report["capabilities"]["state"]["active"] == "memory"
        await app.platform.require(State).set("k", b"memory")  # served, not failed
        with server:
            started = time.monotonic()
            while (await health(app))["status"] != "ok":
                assert time.monotonic() - started < 2.0, "did not move to Redis within 2 s"
                await asyncio.sleep(0.05)
            assert app.platform.capabilities["state"].active_name == "redis"
            await app.platform.require(State).set("k", b"redis")
            assert (
                await app.platform.require(RedisConnection).client.get(
                    app.platform.require(RedisConnection).namespace + "state:k"
                )
                == b"redis"
            )


async def test_hook_shutdown_then_stop_close_the_connection(redis_url):
    async with running_app(redis_backed(redis_url)) as app:
        connection = app.platform.require(RedisConnection)
        await connection.ping()
    assert connection.closed
    assert connection.pool_usage().in_use == 0


async def test_health_on_a_cluster_reports_every_field(redis_cluster_nodes):
    settings = redis_backed("redis://unused", redis={"cluster": {"nodes": redis_cluster_nodes}})
    async with running_app(settings) as app:
        await app.platform.require(State).set("k", b"v")
        report = await health(app)
        redis = report["components"]["redis"]
        assert report["status"] == "ok", report
        assert redis["topology"] == "cluster" and redis["reachable"] is True and redis["version"]
        assert redis["pool"]["free"] >= 1
        # The fleet heartbeat's first script load may hold a connection per primary for a moment; none stays held.
        async with asyncio.timeout(5):
            while (await health(app))["components"]["redis"]["pool"]["in_use"]:
                await asyncio.sleep(0.05)
        await remove_namespace(app.platform.require(RedisConnection))
