"""How the Redis cache uses Redis: round trips, no keyspace scans, bounded tag sets, clearing by SCAN.

These count commands with INFO commandstats, so they run on a redis-server of
their own (the shared one sees other tests' commands).
"""

from __future__ import annotations

import asyncio

import pytest

from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis.cache import RedisCache
from sheepfold_redis.state import RedisState
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="module")
def own_redis():
    with RedisServer() as server:
        yield server


@pytest.fixture
async def connection(own_redis):
    conn = RedisConnection(RedisSettings(url=own_redis.url, prefix="layout", command_timeout=2.0))
    await conn.client.flushall()
    yield conn
    await conn.close()


async def commands_during(connection: RedisConnection, action) -> dict[str, int]:
    """Calls per command (lower-case name) that ``action()`` caused, and ``"round trips"``."""

    async def stats() -> dict[str, int]:
        info = await connection.client.info("commandstats")
        return {name.removeprefix("cmdstat_"): values["calls"] for name, values in info.items()}

    before = await stats()
    await action()
    after = await stats()
    counts = {name: calls - before.get(name, 0) for name, calls in after.items() if calls != before.get(name, 0)}
    counts["info"] -= 1  # the `stats()` call after the action
    return {name: calls for name, calls in counts.items() if calls}


async def test_get_and_increment_are_one_command_each(connection):
    cache, state = RedisCache(connection), RedisState(connection)
    await cache.set("k", b"v")
    assert await commands_during(connection, lambda: cache.get("k")) == {"hget": 1}
    assert await commands_during(connection, lambda: state.incr("n")) == {"incrby": 1}
    await state.incr("t", ttl=10)  # loads the script
    counts = await commands_during(connection, lambda: state.incr("t", ttl=10))
    assert counts.get("evalsha") == 1 and "eval" not in counts and "script|load" not in counts


async def test_invalidating_a_tag_touches_its_members_and_never_scans(connection):
    cache = RedisCache(connection)
    for i in range(3):
        await cache.set(f"member{i}", b"v", tags=["t"])
    for i in range(50):
        await cache.set(f"other{i}", b"v", tags=["u"])
    await cache.set("warm-up", b"v", tags=["warm-up"])
    await cache.invalidate_tag("warm-up")  # loads the scripts: NOSCRIPT and SCRIPT LOAD are not counted below

    async def invalidate() -> None:
        assert await cache.invalidate_tag("t") == 3

    counts = await commands_during(connection, invalidate)
    assert "scan" not in counts and "keys" not in counts
    # One script on the tag, one per member, a ZRANGE per batch (and the empty one that ends), one ZREM per batch.
    # (commandstats counts the commands scripts run too: ZREM is not one of them.)
    assert (counts["evalsha"], counts["zrange"], counts["zrem"]) == (4, 2, 1)


async def test_a_set_is_one_script_per_tag_and_one_on_the_entry(connection):
    cache = RedisCache(connection)
    await cache.set("warm", b"v", tags=["a"])  # loads the scripts
    untagged = await commands_during(connection, lambda: cache.set("k", b"v"))
    tagged = await commands_during(connection, lambda: cache.set("k", b"v", tags=["a", "b"]))
    assert untagged["evalsha"] == 1 and tagged["evalsha"] == 3
    assert not {"multi", "exec", "script|load"} & {*untagged, *tagged}


async def test_a_tag_set_drops_members_long_expired_on_the_next_write(connection):
    cache = RedisCache(connection)
    await cache.set("old", b"v", ttl=0.05, tags=["t"])
    tag_key = cache.tag_keys("t")[0]
    # Scored as expired in 1970: far beyond the clock-skew allowance.
    await connection.client.zadd(tag_key, {cache.entry_key("old"): 1.0})
    await cache.set("new", b"v", tags=["t"])
    assert await connection.client.zrange(tag_key, 0, -1) == [cache.entry_key("new").encode()]


async def test_clear_removes_this_namespace_by_scan_and_unlink_only(connection, own_redis):
    cache = RedisCache(connection)
    other = RedisConnection(RedisSettings(url=own_redis.url, prefix="other-app", command_timeout=2.0))
    try:
        await RedisCache(other).set("k", b"theirs", tags=["t"])
        for i in range(1200):  # more than one batch
            await cache.set(f"k{i}", b"v", tags=[f"t{i % 3}"])

        async def clear() -> None:
            assert await cache.clear() == 1203

        counts = await commands_during(connection, clear)
        assert "keys" not in counts and counts["scan"] >= 1 and counts["unlink"] >= 3
        assert await cache.get("k1") is None
        assert await RedisCache(other).get("k") == b"theirs"
    finally:
        await other.close()


async def test_a_retagged_value_survives_its_old_tag_under_concurrent_writes(connection):
    cache = RedisCache(connection)
    await cache.set("k", b"v1", tags=["old"])
    await asyncio.gather(cache.set("k", b"v2", tags=["new"]), cache.invalidate_tag("old"))
    assert await cache.get("k") == b"v2"
    assert await cache.invalidate_tag("new") == 1
