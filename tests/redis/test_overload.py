"""Overload is not an outage: a late event loop beside a healthy Redis switches nothing; a dead Redis is found fast.

Sessions, cache and rate limiting run on a redis-server of the test's own
with memory as fallback and default switch and Redis settings (timeouts
included). Signed-in clients keep reading their session, the cache and the
rate limiter while the loop is held by CPU work done inline in handlers. The
promise: no capability switches, and no signed-in request is served
anonymous. A killed or frozen (SIGSTOP) Redis is still detected within 1 s,
the bound issue 13 sets, and once it answers again every capability gets
back to it while the traffic goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from blacksheep import Request, Response, Router, text

import sheepfold_ratelimit.plugin as ratelimit_plugin
import sheepfold_redis.plugin as redis_plugin
import sheepfold_sessions.plugin as sessions_plugin
from sheepfold import Cache, PlatformApplication, create_app, hookimpl
from tests.sessions.app_for_tests import SECRET, Browser, SessionRoutes
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import RedisServer

CAPABILITIES = ("sessions", "cache", "ratelimit")
USERS = 8


def busy(seconds: float) -> None:
    """Hold the event loop with CPU work for ``seconds`` (as a handler computing inline does)."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass


class OverloadRoutes:
    """``GET /whoami``: the session's user after a cache read and a write; ``POST /hog/{ms}``: CPU work inline."""

    name = "overload_routes_for_tests"

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Any) -> None:
        cache = platform.require(Cache)

        async def whoami(request: Request) -> Response:
            user = request.session.get("user") or ""
            await cache.get(f"profile:{user}")
            await cache.set(f"seen:{user}", b"1", ttl=60, tags=[f"user:{user}"])  # a pooled command too
            return text(user)

        async def hog(milliseconds: int) -> Response:
            busy(milliseconds / 1000)
            return text("done")

        router.add_get("/whoami", whoami)
        router.add_post("/hog/{milliseconds}", hog)


def platform_on(url: str) -> dict[str, Any]:
    """Sessions, cache and rate limiting on Redis at ``url`` with memory as fallback; default timeouts."""
    return {
        "sessions": {"backend": "redis", "fallback": "memory", "secret": SECRET},
        "cache": {"backend": "redis", "fallback": "memory"},
        "ratelimit": {
            "backend": "redis",
            "fallback": "memory",
            "policies": {"standard": {"limit": "1000000/minute"}},
        },
        "redis": {"url": url, "prefix": fresh_prefix()},
    }


@contextlib.asynccontextmanager
async def overload_app(url: str) -> AsyncIterator[PlatformApplication]:
    app = create_app(
        platform_on(url),
        plugins=[redis_plugin, sessions_plugin, ratelimit_plugin, SessionRoutes(), OverloadRoutes()],
        load_entry_points=False,
    )
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def switches(app: PlatformApplication) -> dict[str, int]:
    return {name: app.platform.capabilities[name].switch_count for name in CAPABILITIES}


@dataclass
class SignedInTraffic:
    """Signed-in clients reading ``/whoami`` until stopped; what they were answered."""

    served: int = 0
    anonymous: list[str] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


@contextlib.asynccontextmanager
async def signed_in_traffic(app: PlatformApplication, users: int = USERS) -> AsyncIterator[SignedInTraffic]:
    browsers = []
    for number in range(users):
        browser = Browser(app)
        assert (await browser.request("POST", f"/login/user{number}")).status == 200
        browsers.append(browser)
    traffic = SignedInTraffic()
    stop = asyncio.Event()

    async def reader(number: int, browser: Browser) -> None:
        while not stop.is_set():
            response = await browser.request("GET", "/whoami")
            if response.status != 200:
                traffic.failed.append(response.status)
            elif (await response.text()) != f"user{number}":
                traffic.anonymous.append(f"user{number}")
            traffic.served += 1
            await asyncio.sleep(0)

    readers = [asyncio.create_task(reader(number, browser)) for number, browser in enumerate(browsers)]
    try:
        yield traffic
    finally:
        stop.set()
        await asyncio.gather(*readers)


async def test_handlers_holding_the_loop_beside_a_healthy_redis_switch_nothing_and_sign_no_one_out():
    with RedisServer() as server:
        async with overload_app(server.url) as app, signed_in_traffic(app) as traffic:
            hogger = Browser(app)
            await asyncio.sleep(0.2)
            for _ in range(5):
                assert (await hogger.request("POST", "/hog/600")).status == 200  # 0.6 s with the loop held
                await asyncio.sleep(0.2)
            lag = app.platform.loop_lag.worst
    print(f"\n{traffic.served} signed-in requests; worst loop lag {lag * 1000:.0f} ms; switches {switches(app)}")
    assert lag >= 0.5  # the loop was held indeed
    assert switches(app) == dict.fromkeys(CAPABILITIES, 0)
    assert traffic.anonymous == [] and traffic.failed == []


async def test_a_saturated_loop_beside_a_healthy_redis_switches_nothing_and_signs_no_one_out():
    with RedisServer() as server:
        async with overload_app(server.url) as app:
            hoggers = [Browser(app) for _ in range(32)]

            async def saturate(browser: Browser) -> None:
                for _ in range(15):  # 32 callers x 20 ms of CPU each: the loop is ~0.6 s behind throughout
                    assert (await browser.request("POST", "/hog/20")).status == 200

            async with signed_in_traffic(app) as traffic:
                await asyncio.gather(*(saturate(browser) for browser in hoggers))
            lag = app.platform.loop_lag.worst
    print(f"\n{traffic.served} signed-in requests; worst loop lag {lag * 1000:.0f} ms; switches {switches(app)}")
    assert lag >= 0.3
    assert switches(app) == dict.fromkeys(CAPABILITIES, 0)
    assert traffic.anonymous == [] and traffic.failed == []


async def detected_within(app: PlatformApplication, seconds: float) -> float:
    """How long until every capability left Redis; fails after ``seconds`` (the issue's bound)."""
    started = time.monotonic()
    while any(app.platform.capabilities[name].on_backend for name in CAPABILITIES):
        elapsed = time.monotonic() - started
        assert elapsed < seconds, f"still on Redis after {elapsed:.2f} s: {switches(app)}"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def test_a_killed_redis_is_detected_within_a_second():
    with RedisServer() as server:
        async with overload_app(server.url) as app, signed_in_traffic(app):
            await asyncio.sleep(0.2)
            await asyncio.to_thread(server.kill)
            took = await detected_within(app, 1.0)
    print(f"\nkilled Redis detected by every capability in {took * 1000:.0f} ms")


async def test_a_frozen_redis_is_detected_within_a_second():
    with RedisServer() as server:
        async with overload_app(server.url) as app, signed_in_traffic(app) as traffic:
            await asyncio.sleep(0.2)
            server.freeze()
            try:
                took = await detected_within(app, 1.0)
            finally:
                server.thaw()
    print(f"\nfrozen Redis detected by every capability in {took * 1000:.0f} ms")
    assert traffic.failed == []


async def back_on_redis(app: PlatformApplication, within: float) -> None:
    """Wait until every capability is on Redis again; fail after ``within`` seconds (generous: "never" is the bug)."""
    deadline = time.monotonic() + within
    while not all(app.platform.capabilities[name].on_backend for name in CAPABILITIES):
        phases = {name: app.platform.capabilities[name].phase.value for name in CAPABILITIES}
        assert time.monotonic() < deadline, f"not back on Redis after {within} s: {phases}"
        await asyncio.sleep(0.02)


async def test_a_thawed_redis_gets_every_capability_back_while_signed_in_traffic_goes_on():
    # Each request sets a cache key: the cache's recovery must not chase writes that keep arriving.
    with RedisServer() as server:
        async with overload_app(server.url) as app, signed_in_traffic(app) as traffic:
            for _cycle in range(3):
                await asyncio.sleep(0.2)
                server.freeze()
                try:
                    await detected_within(app, 5.0)
                finally:
                    server.thaw()
                await back_on_redis(app, within=10.0)
            recoveries = {name: app.platform.capabilities[name].last_recovery for name in CAPABILITIES}
    assert all(result is not None and result.outcome == "ok" for result in recoveries.values()), recoveries
    assert traffic.failed == []  # (who is signed in across an outage is the sessions near cache's promise)
