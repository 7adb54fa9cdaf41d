"""The shared Redis connection: keys, scripts that survive NOSCRIPT, errors, pool, settings."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from redis.asyncio import Redis

from sheepfold import BackendUnavailable, SettingsError, create_app
from sheepfold_redis import RedisConnection, RedisSettings, unavailable_on_failure
from sheepfold_redis import plugin as redis_plugin
from sheepfold_redis.cluster import SPARE_CONNECTIONS
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.redis_server import RedisServer, start_sentinel

INCR_SCRIPT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


@pytest.fixture
async def connection(redis_url):
    conn = RedisConnection(RedisSettings(url=redis_url, prefix=f"test-{secrets.token_hex(4)}", command_timeout=2.0))
    yield conn
    keys = [key async for key in conn.client.scan_iter(match=conn.namespace + "*")]
    if keys:
        await conn.client.unlink(*keys)
    await conn.close()


def test_keys_are_namespaced_with_the_prefix():
    conn = RedisConnection(RedisSettings(prefix="shop"))
    assert conn.key("rl", "alice") == "sheepfold:shop:rl:alice"
    assert RedisConnection(RedisSettings()).key("state", 1) == "sheepfold:state:1"


def test_a_hash_tag_follows_the_namespace_and_braces_in_parts_are_refused():
    conn = RedisConnection(RedisSettings(prefix="shop"))
    assert conn.key("rl", "alice", tag="alice") == "sheepfold:shop:{alice}:rl:alice"
    with pytest.raises(ValueError):
        conn.key("a{b}")
    with pytest.raises(ValueError):
        conn.key("a", tag="")


async def test_ping_measures_latency_and_reads_the_server_version(connection):
    latency = await connection.ping()
    assert 0 < latency < 1000
    assert (await connection.server_version()).count(".") >= 1


async def test_a_script_survives_the_server_forgetting_it(connection):
    script = connection.script(INCR_SCRIPT)
    key = connection.key("counter")
    assert await script(keys=[key], args=[2]) == 2
    await connection.client.script_flush()  # what a restarted server looks like: NOSCRIPT
    assert await script(keys=[key], args=[3]) == 5


async def test_pool_usage_counts_connections_held(connection):
    await connection.ping()
    usage = connection.pool_usage()
    assert usage.in_use == 0 and usage.free >= 1 and usage.size == 20


async def test_an_unreachable_redis_is_backend_unavailable(unused_port):
    conn = RedisConnection(RedisSettings(url=f"redis://127.0.0.1:{unused_port}/0", connect_timeout=0.2))
    with pytest.raises(BackendUnavailable):
        await conn.ping()
    with pytest.raises(BackendUnavailable), unavailable_on_failure():
        await conn.client.get("k")
    await conn.close()


async def test_a_closed_connection_refuses_to_ping(connection):
    await connection.close()
    with pytest.raises(BackendUnavailable):
        await connection.ping()


async def test_a_bad_call_is_not_mistaken_for_an_outage(connection):
    key = connection.key("text")
    await connection.client.set(key, b"abc")
    with pytest.raises(Exception) as caught, unavailable_on_failure():
        await connection.client.incr(key)
    assert not isinstance(caught.value, BackendUnavailable)


async def test_a_primary_refusing_writes_without_a_replica_is_an_outage_not_a_bad_call():
    # min-replicas-to-write: the primary answers NOREPLICAS rather than take writes a failover would lose.
    with RedisServer(extra=["--min-replicas-to-write", "1"]) as server:
        conn = RedisConnection(RedisSettings(url=server.url))
        try:
            with pytest.raises(BackendUnavailable, match="NOREPLICAS"), unavailable_on_failure():
                await conn.execute("SET", conn.key("k"), b"v")
            assert await conn.execute("GET", conn.key("k")) is None  # reads are served
        finally:
            await conn.close()


def test_of_creates_one_connection_per_platform_and_provides_it():
    app = create_app({"redis": {"prefix": "p"}}, plugins=[redis_plugin], load_entry_points=False)
    first = RedisConnection.of(app.platform)
    assert RedisConnection.of(app.platform) is first
    assert app.platform.require(RedisConnection) is first
    assert first.namespace == "sheepfold:p:"


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"url": "http://example"}, "redis.url"),
        ({"url": "redis://:hunter2secret@[::1/0"}, "redis.url"),  # urlsplit raised ValueError: unnamed, a traceback
        ({"url": "redis://:hunter2secret@host:99999/0"}, "redis.url"),
        ({"pool_size": 0}, "redis.pool_size"),
        ({"command_timeout": -1}, "redis.command_timeout"),
        ({"cluster": {"nodes": ["nohost"]}}, "redis.cluster.nodes"),
        ({"retry": {"attempts": "x"}}, "redis.retry.attempts"),
        ({"session_writes": {"wait_replicas": -1}}, "redis.session_writes.wait_replicas"),
        ({"session_writes": {"wait_timeout": 0}}, "redis.session_writes.wait_timeout"),
    ],
)
def test_bad_settings_are_refused_at_start_up_naming_the_key(settings, key):
    with pytest.raises(SettingsError) as caught:
        create_app({"redis": settings}, plugins=[redis_plugin], load_entry_points=False)
    assert any(key in problem for problem in caught.value.problems)
    assert "hunter2secret" not in str(caught.value)


def test_sentinel_and_cluster_together_are_refused():
    app = create_app(
        {"redis": {"sentinel": {"hosts": ["127.0.0.1:26379"]}, "cluster": {"nodes": ["127.0.0.1:7000"]}}},
        plugins=[redis_plugin],
        load_entry_points=False,
    )
    with pytest.raises(SettingsError):
        RedisConnection.of(app.platform)


def test_a_session_wait_as_long_as_the_command_timeout_is_refused_naming_the_key():
    app = create_app(
        {"redis": {"command_timeout": 0.25, "session_writes": {"wait_replicas": 1, "wait_timeout": 0.25}}},
        plugins=[redis_plugin],
        load_entry_points=False,
    )
    with pytest.raises(SettingsError) as caught:
        RedisConnection.of(app.platform)
    assert any("redis.session_writes.wait_timeout" in problem for problem in caught.value.problems)


def test_each_topology_builds_its_client_without_io():
    from redis.asyncio import Redis, RedisCluster

    assert isinstance(RedisConnection(RedisSettings(url="unix:///tmp/redis.sock")).client, Redis)
    assert isinstance(RedisConnection(RedisSettings(sentinel_hosts=(("127.0.0.1", 26379),))).client, Redis)
    assert isinstance(RedisConnection(RedisSettings(cluster_nodes=(("127.0.0.1", 7000),))).client, RedisCluster)


async def burst(conn: RedisConnection, callers: int = 20, calls: int = 300) -> None:
    """Many more concurrent callers than ``pool_size`` connections: none may fail, none may exceed the pool."""

    async def caller(number: int) -> None:
        for i in range(calls):
            with unavailable_on_failure():
                await conn.client.get(conn.key("k", number, i % 7))

    await asyncio.gather(*(caller(n) for n in range(callers)))
    if conn.is_cluster:
        bound = conn.settings.pool_size + SPARE_CONNECTIONS  # the spares: topology refreshes and redirects
        assert all(len(node._connections) <= bound for node in conn.client.get_nodes())
    else:
        usage = conn.pool_usage()
        assert usage.in_use + usage.free <= conn.settings.pool_size


async def test_more_callers_than_connections_take_turns_instead_of_failing(redis_url):
    # redis-py's BlockingConnectionPool lets a releasing task take its connection straight back,
    # starving waiters past their timeout; the fair pool hands connections to waiters in order.
    conn = RedisConnection(
        RedisSettings(url=redis_url, pool_size=2, pool_timeout=0.5, command_timeout=2.0, prefix="fair")
    )
    try:
        await burst(conn)
    finally:
        await conn.close()


async def test_more_callers_than_connections_take_turns_on_a_cluster_too(redis_cluster_nodes):
    # redis-py's cluster raises MaxConnectionsError at once when a node's connections are busy.
    nodes = tuple((host, int(port)) for host, _, port in (node.rpartition(":") for node in redis_cluster_nodes))
    conn = RedisConnection(
        RedisSettings(cluster_nodes=nodes, pool_size=2, pool_timeout=2.0, command_timeout=2.0, prefix="fair")
    )
    try:
        await burst(conn, calls=50)
        pipe = conn.pipeline()
        for i in range(10):
            pipe.get(conn.key("k", i))
        assert await pipe.execute() == [None] * 10
    finally:
        await conn.close()


async def test_a_caller_cancelled_while_waiting_for_a_connection_loses_no_connection(redis_url):
    conn = RedisConnection(RedisSettings(url=redis_url, pool_size=1, pool_timeout=5, command_timeout=2, prefix="fair"))
    try:
        blocker = asyncio.create_task(conn.client.blpop([conn.key("empty")], timeout=0.2))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(conn.client.get(conn.key("k")))
        await asyncio.sleep(0.05)
        waiting.cancel()
        await blocker
        assert await conn.client.get(conn.key("k")) is None  # the one connection is still usable
        assert conn.pool_usage().in_use == 0
    finally:
        await conn.close()


async def test_sentinel_finds_the_master_and_the_connection_uses_it():
    with RedisServer() as master:
        sentinel = start_sentinel(master, "sheepfold-test")
        try:
            settings = RedisSettings(
                sentinel_hosts=(("127.0.0.1", sentinel.port),),
                sentinel_service_name="sheepfold-test",
                prefix="s",
                pool_size=2,
                command_timeout=2.0,
            )
            conn = RedisConnection(settings)
            try:
                assert conn.settings.topology == "sentinel"
                with unavailable_on_failure():
                    await conn.client.set(conn.key("k"), b"through sentinel")
                async with Redis(port=master.port) as raw:
                    assert await raw.get("sheepfold:s:k") == b"through sentinel"
                assert await conn.ping() > 0
                await burst(conn)
            finally:
                await conn.close()
        finally:
            sentinel.stop()


async def test_a_call_cancelled_while_connecting_leaves_no_half_open_connection(unused_port):
    # The switch's call_timeout may cancel a call mid-handshake; redis-py must then drop the socket
    # rather than pool a connection that skipped SELECT (our pool relies on it).
    async with FaultProxy(unused_port) as proxy:  # accepts, then stays silent: the SELECT handshake hangs
        proxy.mode = Fault.SILENT
        conn = RedisConnection(RedisSettings(url=f"redis://127.0.0.1:{proxy.port}/3", command_timeout=5))
        try:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await conn.client.get("k")
            pool = conn.client.connection_pool
            assert all(not connection.is_connected for connection in pool._available_connections)
        finally:
            await conn.close()


async def test_a_script_survives_a_real_server_restart():
    with RedisServer() as server:
        conn = RedisConnection(RedisSettings(url=server.url, prefix="restart", command_timeout=2.0))
        try:
            script = conn.script(INCR_SCRIPT)
            assert await script(keys=[conn.key("n")], args=[1]) == 1
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.start)  # empty: no data, no scripts
            with unavailable_on_failure():
                assert await script(keys=[conn.key("n")], args=[1]) == 1
        finally:
            await conn.close()
