"""Closing the Redis pub/sub adapter stops its reader even when redis-py swallows the cancellation."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.client import PubSub

from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis.pubsub import RedisPubSub
from tests.support.redis_adapters import fresh_prefix

pytestmark = pytest.mark.redis


async def test_close_stops_a_reader_whose_cancellation_redis_py_swallowed(redis_url, monkeypatch):
    original = PubSub.get_message
    swallowed = asyncio.Event()

    async def get_message_swallowing_cancellation(self, *args, **kwargs):
        # What redis-py does when a cancel lands inside one of its read timeouts: the reader sees
        # an ordinary empty read and would go on reading (and reconnecting) forever.
        try:
            return await original(self, *args, **kwargs)
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()
            swallowed.set()
            return None

    monkeypatch.setattr(PubSub, "get_message", get_message_swallowing_cancellation)
    connection = RedisConnection(RedisSettings(url=redis_url, prefix=fresh_prefix()))
    adapter = RedisPubSub(connection)
    try:
        await adapter.start()
        await asyncio.wait_for(adapter._connected.wait(), 5)
        await asyncio.wait_for(adapter.close(), 5)  # before the fix: never returned
        assert swallowed.is_set() and adapter._reader is None
        assert connection.pool_usage().in_use == 0  # the subscriber connection went back
    finally:
        await connection.close()
