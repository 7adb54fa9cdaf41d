"""Sessions while Redis comes back: nothing changed in the recovery window is lost or undone.

A real redis-server of the test's own is killed and restarted. While the
switch recovers, requests are served by the fallback and journaled; traffic
returns to Redis only once the journal is replayed. The outage holds many
sessions, so the replay takes long enough for requests to land inside it.
"""

from __future__ import annotations

import asyncio
import time

from sheepfold import PlatformApplication
from sheepfold.sessions import SessionRecord, SessionRecords
from tests.sessions.app_for_tests import Browser
from tests.sessions.test_outage import read, recovered, session_app_on
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
