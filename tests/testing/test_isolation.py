"""Per-test isolation on the shared servers: a Redis prefix whose keys go after the test, a schema that is dropped."""

from __future__ import annotations

import asyncpg
from redis.asyncio import Redis

from sheepfold import State
from sheepfold.testing import asyncpg_dsn, fresh_prefix, postgres_schema, remove_redis_prefix
from tests.support.plugins import needs


@needs("sheepfold_redis")
async def test_keys_written_under_a_prefix_are_removed_with_it_and_no_others(sheepfold_app, redis_url):
    from sheepfold_redis import plugin as redis_plugin

    prefix, other = fresh_prefix(), fresh_prefix()
    for name in (prefix, other):
        # One heartbeat at start, none during the test: the keys are the state key and the fleet's list.
        settings = {"redis": {"url": redis_url, "prefix": name}, "fleet": {"heartbeat_interval": 300}}
        kit = await sheepfold_app(settings, [redis_plugin], backends={"state": "redis"})
        await kit.platform.require(State).set("k", b"v")
    client = Redis.from_url(redis_url)

    async def keys(name: str) -> list[bytes]:
        return sorted([key async for key in client.scan_iter(match=f"*{name}*")])

    try:
        written = await keys(prefix)
        assert len(written) == 2 and any(key.endswith(b"state:k") for key in written)
        assert await remove_redis_prefix(redis_url, prefix) == 2
        assert await keys(prefix) == []
        assert len(await keys(other)) == 2
    finally:
        await remove_redis_prefix(redis_url, other)
        await client.aclose()


def test_redis_settings_name_the_tests_prefix(redis_settings, redis_prefix, redis_url):
    assert redis_settings == {"redis": {"url": redis_url, "prefix": redis_prefix}}
    assert redis_prefix.startswith("test-")


async def test_a_schema_is_created_empty_and_dropped_with_its_tables(postgres_url):
    async with postgres_schema(postgres_url) as schema:
        connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
        try:
            await connection.execute(f'CREATE TABLE "{schema}".t (id int)')
        finally:
            await connection.close()
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        assert await connection.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema) == 0
    finally:
        await connection.close()
