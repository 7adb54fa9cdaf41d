"""Sharded pub/sub on a real Redis Cluster: channels spread over the shards, and come back after a slot
moves (resharding) or a master dies (failover), with the gap signalled to the link listeners."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from sheepfold.errors import BackendUnavailable
from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis.sharded_pubsub import ShardedRedisPubSub
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import RedisCluster

pytestmark = pytest.mark.redis

CHANNELS = [f"room:{number}" for number in range(30)]


def settings_for(nodes: list[str]) -> RedisSettings:
    return RedisSettings(
        cluster_nodes=tuple((host, int(port)) for host, _, port in (node.rpartition(":") for node in nodes)),
        prefix=fresh_prefix(),
        command_timeout=1.0,
        connect_timeout=1.0,
    )


class Inboxes:
    """Every message each channel received, and what the link listener heard, with when."""

    def __init__(self, broker: ShardedRedisPubSub) -> None:
        self.received: dict[str, list[bytes]] = {}
        self.heard: list[tuple[bool, float]] = []
        broker.add_link_listener(lambda linked: self.heard.append((linked, time.monotonic())))

    def handler(self, channel: str, message: bytes) -> None:
        self.received.setdefault(channel, []).append(message)

    async def wait(self, expected: dict[str, list[bytes]], within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while {channel: self.received.get(channel, []) for channel in expected} != expected:
                await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def started(nodes: list[str]) -> AsyncIterator[tuple[RedisConnection, ShardedRedisPubSub, Inboxes]]:
    connection = RedisConnection(settings_for(nodes))
    broker = ShardedRedisPubSub(connection, ping_interval=0.2, dead_after=1.0)
    inboxes = Inboxes(broker)
    await broker.start()
    try:
        for channel in CHANNELS:
            await broker.subscribe(channel, inboxes.handler)
        yield connection, broker, inboxes
    finally:
        await broker.close()
        await connection.close()


async def promotion_seen(cluster: RedisCluster, victim: int) -> float:
    """When (monotonic) the cluster shows a full set of primaries again, without ``victim``."""

    def promoted() -> bool:
        primaries = cluster.primaries()
        return len(primaries) == cluster.masters and victim not in primaries

    async with asyncio.timeout(20):
        while not await asyncio.to_thread(promoted):
            await asyncio.sleep(0.05)
    return time.monotonic()


async def publish_everywhere(broker: ShardedRedisPubSub, message: bytes) -> list[int]:
    return [await broker.publish(channel, message) for channel in CHANNELS]


async def test_channels_spread_over_every_shard_with_one_subscriber_each(redis_cluster_nodes):
    async with started(redis_cluster_nodes) as (_connection, broker, inboxes):
        assert len(broker.shards) == 3 and sum(broker.shards.values()) == len(CHANNELS)
        assert min(broker.shards.values()) >= 4  # 30 channels hashed over 3 shards
        assert await publish_everywhere(broker, b"x") == [1] * len(CHANNELS)
        await inboxes.wait({channel: [b"x"] for channel in CHANNELS})
        for channel in CHANNELS:
            await broker.unsubscribe(channel, inboxes.handler)
        assert broker.shards == {}  # a shard without subscribed channels keeps no connection
        assert inboxes.heard == []


async def test_a_moved_slot_is_resubscribed_on_its_new_node_and_the_gap_signalled():
    cluster = RedisCluster(3).start()
    try:
        async with started(cluster.nodes) as (connection, broker, inboxes):
            moved = CHANNELS[0]
            name = connection.key("pubsub", moved)
            old = connection.client.get_node_from_key(name).port
            new = next(port for port in cluster.primaries() if port != old)
            cluster.move_slot(connection.client.keyslot(name), new)  # the old owner pushes SUNSUBSCRIBE
            async with asyncio.timeout(5):
                while [linked for linked, _ in inboxes.heard] != [False, True]:
                    await asyncio.sleep(0.01)
            assert connection.client.get_node_from_key(name).port == new
            assert await publish_everywhere(broker, b"after") == [1] * len(CHANNELS)
            await inboxes.wait({channel: [b"after"] for channel in CHANNELS})

            # A subscription sent on a stale slot map: the node answers MOVED, the map is read again.
            late = next(
                f"late:{n}"
                for n in range(1000)
                if connection.client.keyslot(connection.key("pubsub", f"late:{n}")) != connection.client.keyslot(name)
            )
            late_name = connection.key("pubsub", late)
            owner = connection.client.get_node_from_key(late_name).port
            cluster.move_slot(connection.client.keyslot(late_name), next(p for p in cluster.primaries() if p != owner))
            await broker.subscribe(late, inboxes.handler)
            assert await broker.publish(late, b"late") == 1
            await inboxes.wait({late: [b"late"]})
            assert broker.subscriptions.reconnects == 1
    finally:
        cluster.stop()


async def test_a_failed_over_shard_is_followed_to_the_promoted_replica_with_the_gap_signalled():
    cluster = RedisCluster(3, replicas=1).start()
    try:
        async with started(cluster.nodes) as (connection, broker, inboxes):
            victim = connection.client.get_node_from_key(connection.key("pubsub", CHANNELS[0])).port
            late = next(  # a channel of the victim's shard, subscribed while it is down
                f"late:{n}"
                for n in range(1000)
                if connection.client.get_node_from_key(connection.key("pubsub", f"late:{n}")).port == victim
            )
            cluster.server(victim).kill()
            killed = time.monotonic()
            with pytest.raises(BackendUnavailable):  # the interest is kept all the same
                await broker.subscribe(late, inboxes.handler)
            promoted = await promotion_seen(cluster, victim)
            async with asyncio.timeout(20):
                while [linked for linked, _ in inboxes.heard] != [False, True]:
                    await asyncio.sleep(0.02)
            assert await publish_everywhere(broker, b"after") == [1] * len(CHANNELS)
            assert await broker.publish(late, b"late") == 1
            await inboxes.wait({**{channel: [b"after"] for channel in CHANNELS}, late: [b"late"]})
            failover, followed = promoted - killed, inboxes.heard[1][1] - killed
            assert inboxes.heard[0][1] - killed < 1.0  # the loss is seen at once (the connection breaks)
            assert followed < failover + 2.0
            print(f"\nreplica promoted {failover:.1f} s after the kill; subscriptions back after {followed:.1f} s")
    finally:
        cluster.stop()


async def test_a_silent_shard_counts_as_lost_and_its_channels_come_back_when_it_answers():
    cluster = RedisCluster(3).start()
    try:
        async with started(cluster.nodes) as (connection, broker, inboxes):
            frozen = cluster.server(connection.client.get_node_from_key(connection.key("pubsub", CHANNELS[0])).port)
            frozen.freeze()  # connections stay open, nothing answers
            try:
                async with asyncio.timeout(5):
                    while [linked for linked, _ in inboxes.heard] != [False]:
                        await asyncio.sleep(0.02)
            finally:
                frozen.thaw()
            async with asyncio.timeout(10):
                while [linked for linked, _ in inboxes.heard] != [False, True]:
                    await asyncio.sleep(0.02)
            assert await publish_everywhere(broker, b"after") == [1] * len(CHANNELS)
            await inboxes.wait({channel: [b"after"] for channel in CHANNELS})
    finally:
        cluster.stop()
