"""Contract-suite entries for Redis adapters: fakeredis, the real server, and a Redis Cluster.

Each function takes ``make(connection) -> adapter`` and returns the async
context manager that ``tests/contracts/adapters.py`` lists. Real servers get
a fresh key prefix per test (so tests never see each other's keys) and that
prefix's keys are removed afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fakeredis import FakeAsyncRedis

from sheepfold.testing import fresh_prefix
from sheepfold_redis import RedisConnection, RedisSettings

__all__ = ["fresh_prefix", "on_fakeredis", "on_redis", "on_redis_cluster", "remove_namespace"]

MakeAdapter = Callable[[RedisConnection], Any]


async def remove_namespace(connection: RedisConnection) -> None:
    """UNLINK every key under the connection's namespace (SCAN, never KEYS)."""
    names = [name async for name in connection.client.scan_iter(match=connection.namespace + "*", count=500)]
    if names:
        await connection.client.unlink(*names)


@contextlib.asynccontextmanager
async def _adapter_on(connection: RedisConnection, make: MakeAdapter, *, clean: bool) -> AsyncIterator[Any]:
    adapter = make(connection)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.close()
        if clean:
            await remove_namespace(connection)
        await connection.close()


def on_fakeredis(make: MakeAdapter):
    """An adapter on a fresh in-process fakeredis server (fast; no network)."""

    def context(_request: pytest.FixtureRequest) -> contextlib.AbstractAsyncContextManager[Any]:
        connection = RedisConnection(RedisSettings(prefix="test"), client=FakeAsyncRedis())
        return _adapter_on(connection, make, clean=False)

    return context


def on_redis(make: MakeAdapter):
    """An adapter on the machine's Redis (``redis_url`` fixture), under a prefix of its own."""

    def context(request: pytest.FixtureRequest) -> contextlib.AbstractAsyncContextManager[Any]:
        url = request.getfixturevalue("redis_url")
        # Generous timeouts: a contract test is no outage test, and a busy machine may stall Redis briefly.
        settings = RedisSettings(
            url=url, prefix=fresh_prefix(), command_timeout=2.0, connect_timeout=2.0, pool_timeout=2.0
        )
        return _adapter_on(RedisConnection(settings), make, clean=True)

    return context


def on_redis_cluster(make: MakeAdapter, **settings_overrides: Any):
    """An adapter on a three-master Redis Cluster started once per session, under a prefix of its own.

    ``settings_overrides`` are more :class:`RedisSettings` fields (``session_wait_replicas``).
    """

    def context(request: pytest.FixtureRequest) -> contextlib.AbstractAsyncContextManager[Any]:
        nodes = request.getfixturevalue("redis_cluster_nodes")
        settings = RedisSettings(
            cluster_nodes=tuple((host, int(port)) for host, _, port in (node.rpartition(":") for node in nodes)),
            prefix=fresh_prefix(),
            command_timeout=2.0,  # a cluster on a busy 2-core machine may answer slowly; not an outage test
            connect_timeout=2.0,
            pool_timeout=2.0,  # a contract test may queue more calls than the pool holds (60 concurrent hits)
            **settings_overrides,
        )
        return _adapter_on(RedisConnection(settings), make, clean=True)

    return context
