"""Connection limits on a Redis Cluster are per node: ``pool_size`` calls in flight on every primary at once."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode

from sheepfold.errors import BackendUnavailable
from sheepfold_redis import RedisConnection, RedisSettings, unavailable_on_failure
from sheepfold_redis.cluster import SPARE_CONNECTIONS
from tests.support.redis_adapters import fresh_prefix

pytestmark = pytest.mark.redis

POOL_SIZE = 2


@pytest.fixture
async def connection(redis_cluster_nodes):
    nodes = tuple((host, int(port)) for host, _, port in (node.rpartition(":") for node in redis_cluster_nodes))
    # Timeouts longer than the blocking commands below: the callers wait for places, not for a timeout.
    conn = RedisConnection(
        RedisSettings(
            cluster_nodes=nodes, pool_size=POOL_SIZE, pool_timeout=20.0, command_timeout=20.0, prefix=fresh_prefix()
        )
    )
    await conn.client.initialize()
    yield conn
    await conn.close()


def keys_per_primary(conn: RedisConnection, count: int) -> dict[str, list[str]]:
    """``count`` keys of this connection's namespace on each primary, by the primary's name."""
    found: dict[str, list[str]] = {node.name: [] for node in conn.client.get_primaries()}
    for number in itertools.count():
        if all(len(names) >= count for names in found.values()):
            return found
        key = conn.key("blocked", number)
        names = found[conn.client.get_node_from_key(key).name]
        if len(names) < count:
            names.append(key)
    raise AssertionError("unreachable")


def node_client(node_name: str) -> Redis:
    """A client of its own on the node ``host:port`` (the connection under test may have no place free)."""
    host, _, port = node_name.rpartition(":")
    return Redis(host=host, port=int(port))


async def blocked_on(node_name: str) -> int:
    """Clients of ``node_name`` blocked in BLPOP now."""
    async with node_client(node_name) as client:
        return sum(1 for entry in await client.client_list() if entry["cmd"] == "blpop")


async def test_every_primary_serves_pool_size_calls_at_once_and_queues_the_next(connection):
    keys = keys_per_primary(connection, POOL_SIZE)
    blocking = [
        asyncio.create_task(connection.client.blpop([key], timeout=15)) for names in keys.values() for key in names
    ]
    try:
        # pool_size blocked calls on every primary at once: with one bound for the whole cluster,
        # only pool_size calls in all would ever be in flight, and this would never come true.
        async with asyncio.timeout(10):
            while [await blocked_on(name) for name in keys] != [POOL_SIZE] * len(keys):
                await asyncio.sleep(0.05)
        first_node, first_keys = next(iter(keys.items()))
        queued = asyncio.create_task(connection.client.get(first_keys[0]))
        await asyncio.sleep(0.2)
        assert not queued.done(), "a call ran on a node whose places were all taken"
        async with node_client(first_node) as client:
            await client.lpush(first_keys[0], b"go")
        assert await blocking[0] == (first_keys[0].encode(), b"go")
        assert await queued is None  # it took the place the answered call left
    finally:
        for name, names in keys.items():
            async with node_client(name) as client:
                for key in names:
                    await client.lpush(key, b"done")
        await asyncio.gather(*blocking, return_exceptions=True)
        await connection.client.delete(*[key for names in keys.values() for key in names])
    for node in connection.client.get_nodes():
        assert len(node._connections) <= POOL_SIZE + SPARE_CONNECTIONS, node.name


async def test_a_connection_redis_py_closed_under_a_call_is_an_outage_not_a_bug(connection, monkeypatch):
    # redis-py's cluster client closes every node's connections when one fails; a call using one of
    # them then meets the closed socket as an AttributeError or RuntimeError (seen under a failover).
    async def closed_under_the_call(_node, *_args, **_kwargs):
        raise AttributeError("'NoneType' object has no attribute 'writelines'")

    monkeypatch.setattr(ClusterNode, "execute_command", closed_under_the_call)
    with pytest.raises(BackendUnavailable, match="closed under the call"), unavailable_on_failure():
        await connection.client.get(connection.key("k"))
    pipe = connection.pipeline()
    pipe.get(connection.key("k"))
    monkeypatch.setattr(ClusterNode, "execute_pipeline", closed_under_the_call)
    with pytest.raises(BackendUnavailable, match="closed under it"), unavailable_on_failure():
        await pipe.execute()
