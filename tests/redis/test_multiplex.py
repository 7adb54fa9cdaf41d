"""The multiplexed connection: many callers on one socket, each with its own reply, whatever fails."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Iterator

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis.multiplex import MultiplexedConnection, multiplexed_for
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
async def shared(redis_url):
    connection = multiplexed_for(Redis.from_url(redis_url, socket_timeout=2.0))
    assert connection is not None
    yield connection
    await connection.aclose()


@pytest.fixture
def prefix() -> str:
    return f"sheepfold:test-mux-{secrets.token_hex(4)}:"


async def test_concurrent_callers_each_get_their_own_reply_and_share_writes(shared, prefix, monkeypatch):
    await shared.execute("PING")  # connected
    protocol = shared._protocol
    writes: list[int] = []
    original_flush = protocol._flush

    def counting_flush() -> None:
        writes.append(len(protocol._outgoing))
        original_flush()

    monkeypatch.setattr(protocol, "_flush", counting_flush)
    try:
        replies = await asyncio.gather(
            *(shared.execute("SET", f"{prefix}{n}", n, "GET") for n in range(300)),
            *(shared.execute("INCRBY", f"{prefix}counter", n) for n in range(1, 101)),
        )
        assert replies[:300] == [None] * 300  # SET ... GET: no previous value
        assert sorted(replies[300:])[-1] == sum(range(1, 101))
        assert await asyncio.gather(*(shared.execute("GET", f"{prefix}{n}") for n in range(300))) == [
            str(n).encode() for n in range(300)
        ]
        assert writes == [400, 300]  # everything queued in one turn of the loop left in one write
    finally:
        await shared.execute("DEL", f"{prefix}counter", *(f"{prefix}{n}" for n in range(300)))


async def test_a_cancelled_caller_does_not_shift_anyone_elses_reply(shared, prefix):
    await shared.execute("SET", f"{prefix}a", b"A")
    await shared.execute("SET", f"{prefix}b", b"B")
    try:
        abandoned = asyncio.create_task(shared.execute("GET", f"{prefix}a"))
        await asyncio.sleep(0)  # sent, not yet answered
        abandoned.cancel()
        assert await shared.execute("GET", f"{prefix}b") == b"B"
        assert abandoned.cancelled()
    finally:
        await shared.execute("DEL", f"{prefix}a", f"{prefix}b")


async def test_error_replies_are_redis_py_exceptions_and_the_connection_goes_on(shared, prefix):
    await shared.execute("SET", f"{prefix}text", b"x")
    try:
        with pytest.raises(redis_errors.ResponseError, match="WRONGTYPE"):
            await shared.execute("LPUSH", f"{prefix}text", b"y")
        with pytest.raises(redis_errors.NoScriptError):
            await shared.execute("EVALSHA", "0" * 40, 0)
        assert await shared.execute("GET", f"{prefix}text") == b"x"
    finally:
        await shared.execute("DEL", f"{prefix}text")


async def test_a_killed_server_fails_waiting_callers_and_the_next_call_reconnects():
    with RedisServer() as server:
        shared = MultiplexedConnection(port=server.port, connect_timeout=1.0, command_timeout=2.0)
        try:
            await shared.execute("SET", "k", b"v")
            blocked = asyncio.create_task(shared.execute("BLPOP", "nothing-here", 5))
            await asyncio.sleep(0.1)
            server.kill()
            with pytest.raises(redis_errors.ConnectionError):
                await blocked
            with pytest.raises(redis_errors.ConnectionError):
                await shared.execute("GET", "k")  # nothing listens: refused, not hung
            server.start()
            assert await shared.execute("SET", "k", b"back") == b"OK"
            assert await shared.execute("GET", "k") == b"back"
        finally:
            await shared.aclose()


async def test_a_silent_server_times_out_every_waiting_caller():
    with RedisServer() as server:
        async with FaultProxy(server.port) as proxy:
            shared = MultiplexedConnection(port=proxy.port, connect_timeout=1.0, command_timeout=0.2)
            try:
                assert await shared.execute("PING") == b"PONG"
                proxy.mode = Fault.SILENT
                results = await asyncio.gather(*(shared.execute("PING") for _ in range(5)), return_exceptions=True)
                assert [type(result) for result in results] == [redis_errors.TimeoutError] * 5
                proxy.mode = Fault.NONE
                assert await shared.execute("PING") == b"PONG"  # a fresh connection
            finally:
                await shared.aclose()


async def test_the_handshake_authenticates_selects_the_database_and_names_the_client():
    with RedisServer() as server:
        admin = Redis(port=server.port)
        try:
            await admin.config_set("requirepass", "s3cret")
            await admin.execute_command("AUTH", "s3cret")
            url = f"redis://:s3cret@127.0.0.1:{server.port}/5?client_name=sheepfold-test"
            shared = multiplexed_for(Redis.from_url(url))
            try:
                await shared.execute("SET", "where", b"db5")
                assert await admin.execute_command("SELECT", 5) and await admin.get("where") == b"db5"
                names = [client["name"] for client in await admin.client_list()]
                assert "sheepfold-test" in names
            finally:
                await shared.aclose()
            wrong = multiplexed_for(Redis.from_url(f"redis://:wrong@127.0.0.1:{server.port}/0"))
            with pytest.raises(redis_errors.ConnectionError):  # AuthenticationError is one
                await wrong.execute("PING")
            await wrong.aclose()
        finally:
            await admin.aclose()


def test_only_plain_servers_are_multiplexed_and_a_setting_turns_it_off(redis_url):
    assert RedisConnection(RedisSettings(url=redis_url)).multiplexed is not None
    assert RedisConnection(RedisSettings(url="unix:///tmp/redis.sock")).multiplexed is not None
    assert RedisConnection(RedisSettings(url="rediss://127.0.0.1:6380/0")).multiplexed is None
    assert RedisConnection(RedisSettings(sentinel_hosts=(("127.0.0.1", 26379),))).multiplexed is None
    assert RedisConnection(RedisSettings(cluster_nodes=(("127.0.0.1", 7000),))).multiplexed is None
    off = RedisConnection(RedisSettings(url=redis_url, multiplex=False))
    assert off.multiplexed is None and off.execute == off.client.execute_command


async def client_named(admin: Redis, name: str) -> list[dict]:
    return [client for client in await admin.client_list() if client["name"] == name]


async def test_a_connect_every_caller_abandoned_leaves_nothing_stale_after_the_next_drop():
    with RedisServer() as server:
        admin = Redis(port=server.port)
        shared = multiplexed_for(Redis.from_url(f"{server.url}?client_name=mux-abandoned", socket_timeout=2.0))
        try:
            abandoned = asyncio.create_task(shared.execute("PING"))
            await asyncio.sleep(0)  # the connect has started, shared by every caller that comes
            abandoned.cancel()
            with pytest.raises(asyncio.CancelledError):
                await abandoned
            async with asyncio.timeout(10):  # the connect itself goes on, and ends
                while not shared.connected:
                    await asyncio.sleep(0.01)
            assert await admin.client_kill_filter(_type="normal", skipme=True) >= 1  # CLIENT KILL TYPE normal
            async with asyncio.timeout(10):
                while shared.connected:
                    await asyncio.sleep(0.01)
            assert await shared.execute("PING") == b"PONG"  # the first command after the drop reconnects
            assert len(await client_named(admin, "mux-abandoned")) == 1
        finally:
            await shared.aclose()
            await admin.aclose()


async def test_closing_during_a_connect_fails_its_callers_with_connection_error_and_leaves_no_connection():
    with RedisServer() as server:
        admin = Redis(port=server.port)
        shared = multiplexed_for(Redis.from_url(f"{server.url}?client_name=mux-closed", socket_timeout=2.0))
        try:
            callers = [asyncio.create_task(shared.execute("PING")) for _ in range(3)]
            await asyncio.sleep(0)  # all three wait on the one connect
            await shared.aclose()
            results = await asyncio.gather(*callers, return_exceptions=True)
            assert [type(result) for result in results] == [redis_errors.ConnectionError] * 3
            await asyncio.sleep(0.2)  # a connect that went on after the close would be open by now
            assert not shared.connected
            assert await client_named(admin, "mux-closed") == []
            assert await shared.execute("PING") == b"PONG"  # a later call connects again
            assert len(await client_named(admin, "mux-closed")) == 1
        finally:
            await shared.aclose()
            await admin.aclose()


async def test_a_caller_cancelled_during_a_connect_that_is_closed_stays_cancelled():
    with RedisServer() as server:
        shared = MultiplexedConnection(port=server.port, client_name="mux-both")
        caller = asyncio.create_task(shared.execute("PING"))
        await asyncio.sleep(0)
        caller.cancel()
        await shared.aclose()
        with pytest.raises(asyncio.CancelledError):
            await caller


@contextlib.contextmanager
def frozen(server: RedisServer) -> Iterator[None]:
    """The server stops reading (SIGSTOP): what the client writes fills the socket buffers, then its own."""
    process = server.process
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        if process.poll() is None:  # not killed meanwhile
            process.send_signal(signal.SIGCONT)


async def writers_one_per_turn(shared: MultiplexedConnection, count: int, value: bytes) -> list[asyncio.Task]:
    # One command per turn of the loop, so each would leave in a write of its own without backpressure.
    writers = []
    for n in range(count):
        writers.append(asyncio.create_task(shared.execute("SET", f"mux-pressure:{n}", value)))
        await asyncio.sleep(0)
    return writers


async def test_writers_wait_while_the_transport_is_paused_and_go_on_when_it_resumes():
    value = b"x" * (256 * 1024)
    with RedisServer() as server:
        shared = MultiplexedConnection(port=server.port, connect_timeout=1.0)  # no reply timeout: frozen is fine
        try:
            assert await shared.execute("PING") == b"PONG"
            transport = shared._protocol._transport
            transport.set_write_buffer_limits(high=64 * 1024)
            with frozen(server):
                writers = await writers_one_per_turn(shared, 100, value)  # 25 MB: more than the kernel buffers
                await asyncio.sleep(0.2)
                # Without backpressure every command would be in the transport's buffer by now.
                assert transport.get_write_buffer_size() <= 64 * 1024 + len(value)
                assert shared._protocol.paused
                assert shared.waiting < 100  # the rest wait for room before they are even queued
            assert await asyncio.gather(*writers) == [b"OK"] * 100
            assert await shared.execute("STRLEN", "mux-pressure:99") == len(value)
        finally:
            await shared.aclose()


async def test_writers_waiting_for_room_get_connection_error_when_the_connection_drops():
    value = b"x" * (256 * 1024)
    with RedisServer() as server:
        shared = MultiplexedConnection(port=server.port, connect_timeout=1.0)
        try:
            await shared.execute("PING")
            shared._protocol._transport.set_write_buffer_limits(high=64 * 1024)
            with frozen(server):
                writers = await writers_one_per_turn(shared, 100, value)
                await asyncio.sleep(0.2)
                assert shared._protocol.paused
                server.kill()
            results = await asyncio.gather(*writers, return_exceptions=True)
            assert {type(result) for result in results} == {redis_errors.ConnectionError}
        finally:
            await shared.aclose()
