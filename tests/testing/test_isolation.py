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
        kit = await sheepfold_app(
            {"redis": {"url": redis_url, "prefix": name}}, [redis_plugin], backends={"state": "redis"}
        )
        await kit.platform.require(State).set("k", b"v")
    client = Redis.from_url(redis_url)
    try:
        assert await remove_redis_prefix(redis_url, prefix) == 1
        assert [key async for key in client.scan_iter(match=f"*{prefix}*")] == []
        assert len([key async for key in client.scan_iter(match=f"*{other}*")]) == 1
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
