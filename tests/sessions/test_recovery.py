"""Sessions while Redis comes back: nothing changed in the recovery window is lost or undone, nobody signed out.

A real redis-server of the test's own is killed and restarted. While the
switch recovers, requests are served by the fallback (reading through to
Redis for sessions only Redis holds) and journaled; traffic returns to Redis
only once the journal is replayed. The outage holds many sessions, so the
replay takes long enough for requests to land inside it; or a recovery step
of the test's own holds the window open until the test is done with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import sheepfold_redis.plugin as redis_plugin
import sheepfold_sessions.plugin as sessions_plugin
from sheepfold import Phase, PlatformApplication, Recovery, create_app, hookimpl
from sheepfold.sessions import SessionRecord, SessionRecords
from tests.sessions.app_for_tests import Browser, SessionRoutes
from tests.sessions.test_outage import on_redis, read, recovered, session_app_on
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import RedisServer

FILLER = 150  # sessions created during each outage: the replay then spans many event-loop turns


async def fill(app: PlatformApplication, cycle: int) -> None:
    records = app.platform.require(SessionRecords)
    now = time.time()
    for number in range(FILLER):
        record = SessionRecord(b"{}", f"filler{number}", 600, now + 3600, now)
        await records.create(f"filler-{cycle}-{number}", record)


async def redis_is_back(app: PlatformApplication) -> None:
    """Until the switch has left its fallback: recovering, or (without that phase) back on Redis."""
    switch = app.platform.capabilities["sessions"]
    deadline = time.monotonic() + 10.0
    while not (switch.on_backend or getattr(switch, "phase", None) == "recovering"):
        assert time.monotonic() < deadline, "Redis was not found again"
        await asyncio.sleep(0.001)


async def test_a_logout_right_after_redis_returns_stays_a_logout_over_20_restarts():
    prefix = fresh_prefix()
    with RedisServer() as server:
        async with session_app_on(server.url, prefix) as app:
            switch = app.platform.capabilities["sessions"]
            for cycle in range(20):
                server.kill()
                await fill(app, cycle)
                alice = Browser(app)
                assert (await alice.request("POST", "/login/alice")).status == 200
                assert not switch.on_backend
                cookie = alice.cookie
                server.start()
                await redis_is_back(app)
                await alice.request("POST", "/logout")  # in the recovery window (or just after)
                await recovered(app)
                alice.cookie = cookie
                assert await read(alice) == {}, f"cycle {cycle}: the log-out was undone"
                async with session_app_on(server.url, prefix) as other:
                    assert await other.platform.require(SessionRecords).user_sessions("alice") == {}


async def test_a_session_modified_in_the_recovery_window_keeps_the_modification():
    prefix = fresh_prefix()
    with RedisServer() as server:
        async with session_app_on(server.url, prefix) as app:
            server.kill()
            await fill(app, 0)
            bob = Browser(app)
            await bob.request("POST", "/login/bob")
            server.start()
            await redis_is_back(app)
            assert (await bob.request("POST", "/set/cart", ["pear"])).status == 200
            await recovered(app)
            assert await read(bob) == {"cart": ["pear"], "user": "bob"}
            async with session_app_on(server.url, prefix) as other:  # only Redis can answer there
                elsewhere = Browser(other)
                elsewhere.cookie = bob.cookie
                assert await read(elsewhere) == {"cart": ["pear"], "user": "bob"}


class HeldRecovery:
    """A plugin whose recovery step, run before the session replay, holds the recovering window open.

    Listed before the sessions plugin, so that its step is added (and runs) first.
    """

    name = "held_recovery_for_tests"

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    @hookimpl
    def sheepfold_configure_app(self, app: Any, platform: Any) -> None:
        async def hold(recovery: Recovery[SessionRecords]) -> None:
            self.entered.set()
            await self.release.wait()

        platform.capabilities["sessions"].add_recovery_step("held-by-the-test", hold)


@contextlib.asynccontextmanager
async def held_app_on(url: str, prefix: str, held: HeldRecovery) -> AsyncIterator[PlatformApplication]:
    app = create_app(
        on_redis(url, prefix),
        plugins=[redis_plugin, held, sessions_plugin, SessionRoutes()],
        load_entry_points=False,
    )
    await app.start()
    try:
        yield app
    finally:
        held.release.set()
        await app.stop()


async def test_nobody_is_signed_out_in_the_recovery_window_and_an_outage_log_out_stays_one():
    prefix = fresh_prefix()
    held = HeldRecovery()
    with RedisServer() as server:  # Redis keeps its data; this process cannot reach it for a while
        async with FaultProxy(server.port) as proxy, held_app_on(proxy.url, prefix, held) as app:
            switch = app.platform.capabilities["sessions"]
            alice, bob, dave = Browser(app), Browser(app), Browser(app)
            for browser, user in ((alice, "alice"), (bob, "bob"), (dave, "dave")):
                await browser.request("POST", f"/login/{user}")  # held by Redis alone
            bob_cookie = bob.cookie
            proxy.mode = Fault.RESET
            assert await read(bob) == {}  # Redis is unreachable: his session cannot be read
            await bob.request("POST", "/logout")  # a log-out during the outage
            carol = Browser(app)
            await carol.request("POST", "/login/carol")  # only in memory
            assert not switch.on_backend
            proxy.mode = Fault.NONE
            async with asyncio.timeout(10.0):
                await held.entered.wait()
            assert switch.phase is Phase.RECOVERING
            assert await read(alice) == {"user": "alice"}  # signed in before the outage: still signed in
            assert await read(carol) == {"user": "carol"}
            bob.cookie = bob_cookie
            assert await read(bob) == {}  # the log-out holds, though Redis has not heard of it yet
            assert (await alice.request("POST", "/set/cart", ["fig"])).status == 200
            await dave.request("POST", "/logout")  # a log-out inside the window
            assert switch.phase is Phase.RECOVERING
            held.release.set()
            await recovered(app)
            assert await read(alice) == {"cart": ["fig"], "user": "alice"}
            assert await read(bob) == {}
            async with session_app_on(server.url, prefix) as other:  # only Redis can answer there
                elsewhere = Browser(other)
                for cookie, expected in ((alice.cookie, {"cart": ["fig"], "user": "alice"}), (bob_cookie, {})):
                    elsewhere.cookie = cookie
                    assert await read(elsewhere) == expected
                records = other.platform.require(SessionRecords)
                assert await records.user_sessions("bob") == {}
                assert await records.user_sessions("dave") == {}
                assert len(await records.user_sessions("carol")) == 1
