"""State's atomic operations hold between instances: several connections (own sockets) racing on one Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis.state import RedisState
from tests.support.redis_adapters import fresh_prefix, remove_namespace

INSTANCES = 4


@contextlib.asynccontextmanager
async def instances(redis_url: str) -> AsyncIterator[list[RedisState]]:
    """``INSTANCES`` adapters sharing a prefix, each on its own connection (half multiplexed, half pooled)."""
    prefix = fresh_prefix()
    connections = [
        RedisConnection(RedisSettings(url=redis_url, prefix=prefix, multiplex=n % 2 == 0, command_timeout=2.0))
        for n in range(INSTANCES)
    ]
    try:
        yield [RedisState(connection) for connection in connections]
    finally:
        await remove_namespace(connections[0])
        for connection in connections:
            await connection.close()


async def test_compare_and_set_from_many_connections_has_one_winner(redis_url):
    async with instances(redis_url) as states:
        for round_number in range(10):
            key = f"leader:{round_number}"
            outcomes = await asyncio.gather(
                *(state.compare_and_set(key, None, f"{n}".encode(), ttl=30) for n, state in enumerate(states * 5))
            )
            assert outcomes.count(True) == 1
            assert await states[0].get(key) == str(outcomes.index(True)).encode()


async def test_compare_and_set_increments_from_many_connections_lose_nothing(redis_url):
    async def add_one(state: RedisState) -> None:
        while True:
            current = await state.get("total")
            if await state.compare_and_set("total", current, str(int(current or b"0") + 1).encode()):
                return

    async with instances(redis_url) as states:
        await asyncio.gather(*(add_one(state) for state in states * 10))
        assert await states[0].get("total") == str(INSTANCES * 10).encode()


async def test_pushes_from_many_connections_keep_the_cap(redis_url):
    async with instances(redis_url) as states:
        lengths = await asyncio.gather(
            *(state.list_push("feed", f"{n}".encode(), max_length=5, ttl=30) for n, state in enumerate(states * 10))
        )
        assert max(lengths) == 5
        assert len(await states[1].list_range("feed")) == 5
