"""Sessions while Redis is down: served from memory, and written back to Redis when it returns.

Each test starts its own redis-server on a spare loopback port (or puts a
fault proxy in front of one) and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import sheepfold_redis.plugin as redis_plugin
import sheepfold_sessions.plugin as sessions_plugin
from sheepfold import PlatformApplication, create_app
from sheepfold.sessions import SessionRecords
from tests.sessions.app_for_tests import SECRET, Browser, SessionRoutes
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import RedisServer


def on_redis(url: str, prefix: str) -> dict[str, Any]:
    return {
        "sessions": {"backend": "redis", "fallback": "memory", "secret": SECRET},
        "redis": {"url": url, "prefix": prefix},
        "switch": {"probe_interval": 0.05},
    }


@contextlib.asynccontextmanager
async def session_app_on(url: str, prefix: str) -> AsyncIterator[PlatformApplication]:
    app = create_app(
        on_redis(url, prefix), plugins=[redis_plugin, sessions_plugin, SessionRoutes()], load_entry_points=False
    )
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def recovered(app: PlatformApplication, within: float = 10.0) -> None:
    """Wait until the sessions switch is back on Redis and the outage's changes are replayed."""
    switch = app.platform.require(SessionRecords)
    deadline = time.monotonic() + within
    while not switch.on_backend or any(switch.fallback.pending()):
        assert time.monotonic() < deadline, "sessions did not return to Redis"
        await asyncio.sleep(0.05)


async def read(browser: Browser) -> dict[str, Any]:
    response = await browser.request("GET", "/read")
    assert response.status == 200
    return await response.json()


async def test_sessions_created_or_changed_during_an_outage_survive_recovery():
    prefix = fresh_prefix()
    with RedisServer() as server:
        async with session_app_on(server.url, prefix) as app:
            switch = app.platform.require(SessionRecords)
            server.kill()
            bob, carol, dave = Browser(app), Browser(app), Browser(app)
            assert (await bob.request("POST", "/login/bob")).status == 200
            assert not switch.on_backend  # served from memory
            await bob.request("POST", "/set/cart", ["apple"])
            await carol.request("POST", "/login/carol")
            await dave.request("POST", "/login/dave")
            await dave.request("POST", "/logout")
            assert await read(bob) == {"cart": ["apple"], "user": "bob"}

            server.start()
            await recovered(app)
            assert await read(bob) == {"cart": ["apple"], "user": "bob"}
            async with session_app_on(server.url, prefix) as other:  # another instance: it can only be in Redis
                for browser, expected in ((bob, {"cart": ["apple"], "user": "bob"}), (carol, {"user": "carol"})):
                    elsewhere = Browser(other)
                    elsewhere.cookie = browser.cookie
                    assert await read(elsewhere) == expected
                assert len(await other.platform.require(SessionRecords).user_sessions("bob")) == 1
                assert await other.platform.require(SessionRecords).user_sessions("dave") == {}


async def test_a_logout_during_an_outage_still_ends_the_session_held_by_redis():
    prefix = fresh_prefix()
    with RedisServer() as server:
        async with FaultProxy(server.port) as proxy, session_app_on(proxy.url, prefix) as app:
            alice = Browser(app)
            await alice.request("POST", "/login/alice")
            cookie = alice.cookie
            proxy.mode = Fault.RESET
            assert await read(alice) == {}  # Redis is unreachable: her session cannot be read
            await alice.request("POST", "/logout")
            proxy.mode = Fault.NONE
            await recovered(app)
            alice.cookie = cookie
            assert await read(alice) == {}  # and it did not come back with Redis
