"""The fleet on Redis: instances see each other through their heartbeats, and through each other while Redis is down.

Two apps served on real ports in this test's event loop, on a redis-server of the test's own
(so that it can be killed). Each is told its own address, as ``sheepfold serve`` tells it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sheepfold.testing.served import ServedApp, served_app
from sheepfold_redis import plugin as redis_plugin
from tests.redis.conftest import redis_backed
from tests.support.redis_server import RedisServer

INTERVAL = 0.1


@contextlib.asynccontextmanager
async def instance(url: str, prefix: str) -> AsyncIterator[ServedApp]:
    settings = redis_backed(url, fleet={"heartbeat_interval": INTERVAL})
    settings["redis"]["prefix"] = prefix
    async with served_app(settings, [redis_plugin], backends={"state": "redis"}) as served:
        served.platform.fleet.address = served.url
        yield served


async def listed(served: ServedApp) -> list[str]:
    """The live instances ``served`` sees, once each has announced its address (set after its first beat here)."""
    return [record.instance for record in await served.platform.fleet.instances() if record.address]


async def eventually(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


async def test_two_instances_list_each_other_and_one_that_stops_is_gone_at_once():
    with RedisServer() as server:
        async with instance(server.url, "fleet-a") as a:
            async with instance(server.url, "fleet-a") as b:
                both = sorted([a.platform.instance_id, b.platform.instance_id])
                await eventually(lambda: _equals(listed(a), both))
                assert await listed(b) == both
                view = await a.platform.fleet.view()
                assert view.shared and view.unreachable == []
                peer = next(record for record in view.instances if record.instance == b.platform.instance_id)
                assert peer.address == b.url and peer.capabilities["state"].active == "redis"
            assert await listed(a) == [a.platform.instance_id]  # b said it left


async def test_while_redis_is_down_peers_are_asked_directly_and_a_dead_one_is_unreachable():
    with RedisServer() as server:
        async with instance(server.url, "fleet-b") as a, instance(server.url, "fleet-b") as b:
            ids = sorted([a.platform.instance_id, b.platform.instance_id])
            await eventually(lambda: _equals(listed(a), ids))
            server.kill()

            async def both_on_the_fallback() -> bool:
                view = await a.platform.fleet.view()
                phases = {record.instance: record.capabilities["state"].phase for record in view.instances}
                return not view.shared and phases == dict.fromkeys(ids, "fallback")

            await eventually(both_on_the_fallback)
            server.start()
            await eventually(lambda: _shared_with(a, ids))

    with RedisServer() as server:
        async with instance(server.url, "fleet-c") as a:
            async with instance(server.url, "fleet-c") as b:
                b_id = b.platform.instance_id
                await eventually(lambda: _equals(listed(a), sorted([a.platform.instance_id, b_id])))
                server.kill()
            # b stopped while Redis was down: its farewell never reached a, and it answers nobody now.

            async def b_unreachable() -> bool:
                view = await a.platform.fleet.view()
                return [record.instance for record in view.unreachable] == [b_id]

            await eventually(b_unreachable)
            assert await listed(a) == [a.platform.instance_id]


async def _equals(awaitable, expected) -> bool:
    return await awaitable == expected


async def _shared_with(served: ServedApp, ids: list[str]) -> bool:
    view = await served.platform.fleet.view()
    return (
        view.shared
        and [record.instance for record in view.instances] == ids
        and all(record.capabilities["state"].phase == "backend" for record in view.instances)
    )
