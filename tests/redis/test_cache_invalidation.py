"""Tag invalidation against writes in flight, and interrupted: nothing written before an invalidation survives it.

A tagged ``set`` is two steps (the tags' scripts, then the entry's), and an
invalidation visits members one entry at a time, so on a Cluster no script
spans two slots. These tests stop a write between its steps, or break an
invalidation halfway, on one server and on a Cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from sheepfold import BackendUnavailable
from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis import cache as cache_module
from sheepfold_redis.cache import RedisCache
from tests.support.redis_adapters import fresh_prefix, remove_namespace

pytestmark = pytest.mark.redis

Hook = Callable[[list[Any], list[Any]], Awaitable[None]]


@pytest.fixture(params=["redis", "redis-cluster"])
async def connection(request) -> AsyncIterator[RedisConnection]:
    if request.param == "redis":
        settings = RedisSettings(url=request.getfixturevalue("redis_url"), prefix=fresh_prefix(), command_timeout=2.0)
    else:
        nodes = request.getfixturevalue("redis_cluster_nodes")
        settings = RedisSettings(
            cluster_nodes=tuple((host, int(port)) for host, _, port in (node.rpartition(":") for node in nodes)),
            prefix=fresh_prefix(),
            command_timeout=2.0,
            pool_timeout=2.0,
        )
    conn = RedisConnection(settings)
    yield conn
    await remove_namespace(conn)
    await conn.close()


def cache_with_hook(connection: RedisConnection, hook: Hook) -> RedisCache:
    """A cache whose every script call first awaits ``hook(keys, args)`` (to stop it, or fail it)."""
    run = connection.run_script

    async def hooked(script: Any, keys: list[Any], args: list[Any]) -> Any:
        await hook(keys, args)
        return await run(script, keys, args)

    connection.run_script = hooked  # type: ignore[method-assign]  # the adapter takes it at construction
    return RedisCache(connection)


async def test_a_write_whose_tags_were_read_before_an_invalidation_and_lands_after_it_is_dropped(connection):
    reached, release = asyncio.Event(), asyncio.Event()

    async def stop_the_new_entry(keys: list[Any], args: list[Any]) -> None:
        if args and args[0] == b"new" and len(keys) > 1:  # the entry's step of set("k", b"new", tags=...)
            reached.set()
            await release.wait()

    cache = cache_with_hook(connection, stop_the_new_entry)
    await cache.set("k", b"old", tags=["t"])
    writing = asyncio.create_task(cache.set("k", b"new", tags=["t"]))
    await reached.wait()  # its tag step is done: it read the version the invalidation is about to replace
    assert await cache.invalidate_tag("t") == 1
    release.set()
    await writing
    assert await cache.get("k") is None


async def test_a_write_that_reads_its_tags_after_an_invalidation_is_kept_until_the_next(connection):
    cache = RedisCache(connection)
    await cache.set("k", b"old", tags=["t", "u"])
    assert await cache.invalidate_tag("t") == 1
    await cache.set("k", b"new", tags=["t", "u"])
    assert await cache.get("k") == b"new"
    assert await cache.invalidate_tag("t") == 1
    assert await cache.get("k") is None


async def test_an_interrupted_invalidation_is_finished_by_the_next_one(connection):
    failed: list[Any] = []

    async def fail_one_visit(keys: list[Any], args: list[Any]) -> None:
        if len(keys) == 2 and isinstance(keys[1], bytes) and keys[1].endswith(b":stale:t") and not failed:
            failed.append(keys[0])
            raise RedisConnectionError("Connection to Redis lost.")

    cache = cache_with_hook(connection, fail_one_visit)
    for key in ("a", "b", "c"):
        await cache.set(key, b"v", tags=["t"])
    with pytest.raises(BackendUnavailable):
        await cache.invalidate_tag("t")
    assert await cache.get(failed[0].decode().partition("{")[2].partition("}")[0]) == b"v"  # missed
    await cache.invalidate_tag("t")
    assert [await cache.get(key) for key in ("a", "b", "c")] == [None, None, None]
    assert await connection.client.exists(cache.tag_keys("t")[2]) == 0  # nothing left to visit


async def test_a_write_too_slow_to_trust_the_stale_markers_is_dropped(connection, monkeypatch):
    monkeypatch.setattr(cache_module, "STALE_MARKER_MS", 0)  # any tagged write is then "too slow"
    cache = RedisCache(connection)
    await cache.set("k", b"old")
    await cache.set("k", b"tagged", tags=["t"])
    assert await cache.get("k") is None
    await cache.set("k", b"untagged")
    assert await cache.get("k") == b"untagged"
