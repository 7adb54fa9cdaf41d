"""Per-test isolation on shared servers: a Redis key prefix of the test's own, a PostgreSQL schema of its own.

Both are removed afterwards, so parallel runs on the machine's Redis and
database ``test`` never see each other's keys or tables. The drivers
(redis-py, asyncpg) are imported only here, when a test asks: they come with
``sheepfold-redis`` and ``sheepfold-database``, not with the kernel.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator


def fresh_prefix() -> str:
    """A key prefix no other test uses (``redis.prefix``): ``test-<8 hex digits>``."""
    return f"test-{secrets.token_hex(4)}"


async def remove_redis_prefix(url: str, prefix: str) -> int:
    """UNLINK every key of ``prefix`` on the Redis at ``url`` (SCAN, never KEYS); how many were removed.

    A key belongs to ``prefix`` when the prefix is one of its ``:``-separated
    parts, wherever the plugin's key layout puts it.
    """
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        removed = 0
        for pattern in (f"*:{prefix}:*", f"{prefix}:*"):
            names = [name async for name in client.scan_iter(match=pattern, count=500)]
            if names:
                removed += await client.unlink(*names)
        return removed
    finally:
        await client.aclose()


def asyncpg_dsn(url: str) -> str:
    """The plain ``postgresql://`` DSN asyncpg takes, from an SQLAlchemy URL (``postgresql+asyncpg://``)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextlib.asynccontextmanager
async def postgres_schema(url: str, prefix: str = "sf_") -> AsyncIterator[str]:
    """A fresh, empty schema in the database at ``url`` (SQLAlchemy or asyncpg URL), dropped with its contents after."""
    import asyncpg  # type: ignore[import-untyped]  # asyncpg ships neither type hints nor stubs

    schema = f"{prefix}{secrets.token_hex(6)}"
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        yield schema
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()
