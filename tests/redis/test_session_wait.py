"""``redis.session_writes.wait_replicas``: every session write is followed by ``WAIT`` on its own connection."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from sheepfold.sessions import SessionRecord
from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis.sessions import RedisSessionRecords
from tests.support.redis_adapters import fresh_prefix, remove_namespace
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis


def record(user: str | None = "alice") -> SessionRecord:
    now = time.time()
    return SessionRecord(data=b"{}", user=user, idle_timeout=60, absolute_deadline=now + 600, created_at=now)


async def write_each_kind(sessions: RedisSessionRecords) -> None:
    assert await sessions.create("s1", record())
    assert await sessions.write_if_changed("s1", b'{"n": 1}')
    await sessions.restore("s2", record())
    assert await sessions.delete("s2")


async def test_on_a_server_with_a_replica_each_write_waits_for_it_and_reaches_it():
    with (
        RedisServer(extra=["--repl-diskless-sync-delay", "0"]) as primary,
        RedisServer(extra=["--replicaof", "127.0.0.1", str(primary.port)]) as replica,
    ):
        async with Redis(port=replica.port) as watcher:
            while (await watcher.info("replication"))["master_link_status"] != "up":
                await asyncio.sleep(0.05)
        settings = RedisSettings(
            url=primary.url,
            prefix=fresh_prefix(),
            session_wait_replicas=1,
            session_wait_timeout=1.0,
            command_timeout=2.0,
        )
        connection = RedisConnection(settings)
        sessions = RedisSessionRecords(connection)
        try:
            await write_each_kind(sessions)
            assert sessions.unreplicated_writes == 0
            async with Redis(port=replica.port) as on_replica:  # there when WAIT returned, not some time later
                assert await on_replica.hget(sessions.session_key("s1"), "d") == b'{"n": 1}'
                assert not await on_replica.exists(sessions.session_key("s2"))
        finally:
            await connection.close()


async def test_on_a_cluster_a_write_waits_on_its_shard_and_counts_what_too_few_replicas_acknowledged(
    redis_cluster_nodes,
):
    nodes = tuple((host, int(port)) for host, _, port in (node.rpartition(":") for node in redis_cluster_nodes))
    for wanted, unreplicated in ((1, 0), (2, 4)):  # each shard has one replica: two are never there
        connection = RedisConnection(
            RedisSettings(
                cluster_nodes=nodes,
                prefix=fresh_prefix(),
                command_timeout=1.0,
                session_wait_replicas=wanted,
                session_wait_timeout=0.05,
            )
        )
        registry = CollectorRegistry()
        sessions = RedisSessionRecords(connection, registry=registry)
        try:
            await write_each_kind(sessions)
            assert sessions.unreplicated_writes == unreplicated
            counted = registry.get_sample_value("sheepfold_redis_session_writes_unreplicated_total")
            assert counted == unreplicated
            assert (await sessions.read_and_touch("s1")).data == b'{"n": 1}'  # the write stands all the same
        finally:
            await remove_namespace(connection)
            await connection.close()
