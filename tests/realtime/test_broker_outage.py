"""The Redis pub/sub adapter on a redis-server of the test's own, killed and restarted."""

from __future__ import annotations

import asyncio
import time

import pytest

from sheepfold.errors import BackendUnavailable
from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis.pubsub import RedisPubSub
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.redis_server import RedisServer


async def test_subscriptions_come_back_within_two_seconds_of_redis_restarting():
    with RedisServer() as server:
        connection = RedisConnection(RedisSettings(url=server.url, prefix="outage"))
        publisher = RedisConnection(RedisSettings(url=server.url, prefix="outage"))
        broker = RedisPubSub(connection)
        heard: list[tuple[bool, float]] = []
        broker.add_link_listener(lambda linked: heard.append((linked, time.monotonic())))
        received: list[bytes] = []
        await broker.start()
        try:
            await broker.subscribe("news", lambda _channel, message: received.append(message))
            await publisher.client.publish("sheepfold:outage:pubsub:news", b"before")
            server.kill()
            async with asyncio.timeout(5):
                while not heard:
                    await asyncio.sleep(0.01)
            assert heard[0][0] is False and not broker.subscriptions.linked
            server.start()
            restarted = time.monotonic()
            async with asyncio.timeout(5):
                while len(heard) < 2:
                    await asyncio.sleep(0.01)
            assert heard[1][0] is True and heard[1][1] - restarted < 2.0
            assert broker.subscriptions.reconnects == 1
            assert await publisher.client.publish("sheepfold:outage:pubsub:news", b"after") == 1
            async with asyncio.timeout(5):
                while received != [b"before", b"after"]:
                    await asyncio.sleep(0.01)
        finally:
            await broker.close()
            await connection.close()
            await publisher.close()


async def test_a_subscription_made_during_the_outage_is_made_when_redis_is_back():
    with RedisServer() as server:
        connection = RedisConnection(RedisSettings(url=server.url, prefix="outage"))
        broker = RedisPubSub(connection)
        await broker.start()
        received: list[bytes] = []
        try:
            await broker.subscribe("early", lambda _c, m: received.append(m))
            server.kill()
            async with asyncio.timeout(5):
                while broker.subscriptions.linked:
                    await asyncio.sleep(0.01)
            with pytest.raises(BackendUnavailable):  # the interest is kept all the same
                await broker.subscribe("late", lambda _c, m: received.append(m))
            server.start()
            async with asyncio.timeout(5):
                while not broker.subscriptions.linked:
                    await asyncio.sleep(0.01)
            assert await broker.publish("late", b"late") == 1
            assert await broker.publish("early", b"early") == 1
            async with asyncio.timeout(5):
                while sorted(received) != [b"early", b"late"]:
                    await asyncio.sleep(0.01)
        finally:
            await broker.close()
            await connection.close()


async def test_a_silent_redis_counts_as_lost_and_the_link_comes_back_when_it_answers():
    with RedisServer() as server:
        proxy = await FaultProxy(server.port).start()
        connection = RedisConnection(RedisSettings(url=proxy.url, prefix="silent"))
        broker = RedisPubSub(connection, ping_interval=0.2, dead_after=0.8)
        heard: list[bool] = []
        broker.add_link_listener(heard.append)
        await broker.start()
        try:
            await broker.subscribe("news", lambda _channel, _message: None)
            proxy.mode = Fault.SILENT
            async with asyncio.timeout(5):
                while heard != [False]:
                    await asyncio.sleep(0.01)
            proxy.mode = Fault.NONE
            async with asyncio.timeout(5):
                while heard != [False, True]:
                    await asyncio.sleep(0.01)
            assert await broker.publish("news", b"x") == 1
        finally:
            await broker.close()
            await connection.close()
            await proxy.close()
