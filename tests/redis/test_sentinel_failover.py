"""Redis Sentinel: when the master dies, the platform serves from memory, then follows Sentinel to the new master."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from sheepfold import State
from sheepfold_redis import RedisConnection
from tests.redis.conftest import redis_backed, running_app
from tests.support.redis_server import RedisServer, start_sentinel


async def wait_for(condition, *, within: float, what: str) -> float:
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < within, f"{what} did not happen within {within} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_the_platform_follows_a_sentinel_failover_without_failing_a_call():
    # No 5 s wait before the first full sync (Redis' default for diskless replication).
    with (
        RedisServer(extra=["--repl-diskless-sync-delay", "0"]) as master,
        RedisServer(extra=["--replicaof", "127.0.0.1", str(master.port)]) as replica,
    ):
        sentinel = start_sentinel(master, "sheepfold-failover")
        try:
            async with Redis(port=sentinel.port) as watcher:

                async def replica_known() -> bool:
                    return bool(await watcher.sentinel_slaves("sheepfold-failover"))

                await wait_for(replica_known, within=10, what="Sentinel discovering the replica")
            settings = redis_backed(
                "redis://unused",
                redis={"sentinel": {"hosts": [f"127.0.0.1:{sentinel.port}"], "service_name": "sheepfold-failover"}},
            )
            async with running_app(settings) as app:
                state, switch = app.platform.require(State), app.platform.capabilities["state"]
                assert switch.active_name == "redis"
                await state.set("before", b"1")
                connection = app.platform.require(RedisConnection)

                async def replicated() -> bool:  # before the master dies (replication is asynchronous)
                    return await connection.client.wait(1, 200) == 1

                await wait_for(replicated, within=10, what="the replica acknowledging the write")
                master.kill()
                await state.set("during", b"2")  # served: by memory once the dead master fails the call
                assert switch.active_name == "memory"

                async def back_on_redis() -> bool:
                    return switch.active_name == "redis"

                took = await wait_for(back_on_redis, within=15, what="moving to the promoted replica")
                await state.set("after", b"3")
                async with Redis(port=replica.port) as promoted:
                    assert (await promoted.info("replication"))["role"] == "master"
                    assert await promoted.get(f"{connection.namespace}state:after") == b"3"
                    assert await promoted.get(f"{connection.namespace}state:before") == b"1"
                print(f"\nback on Redis (the promoted replica) {took:.1f} s after the master was killed")
        finally:
            sentinel.stop()
