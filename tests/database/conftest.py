"""Fixtures of the database tests: a private PostgreSQL schema per test, and apps on it or on SQLite.

Every PostgreSQL test works in a schema of its own (the kit's ``pg_schema``
fixture, set as the connections' ``search_path``) that is dropped afterwards, and tags its
connections with a unique ``application_name``, so parallel runs on the shared
database ``test`` never see each other's tables or connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from sheepfold import PlatformApplication, create_app
from sheepfold.testing import asyncpg_dsn
from sheepfold_database import plugin as database_plugin


@pytest.fixture
def application_name() -> str:
    """A unique ``application_name`` for the app's connections (to find them in ``pg_stat_activity``)."""
    return f"sheepfold-test-{secrets.token_hex(6)}"


@pytest.fixture
def pg_settings(postgres_url: str, pg_schema: str, application_name: str) -> dict[str, Any]:
    """``[database]`` settings on PostgreSQL, in the test's schema, with a small pool."""
    return {
        "url": postgres_url,
        "schema": pg_schema,
        "application_name": application_name,
        "pool_size": 3,
        "max_overflow": 1,
    }


def app_settings(database: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {"database": database, **sections}


@contextlib.asynccontextmanager
async def running_app(
    database: dict[str, Any], *plugins: object, **sections: Any
) -> AsyncIterator[PlatformApplication]:
    """A started app with the kernel's plugins, sheepfold-database and ``plugins``; stopped on exit."""
    app = create_app(app_settings(database, **sections), plugins=[database_plugin, *plugins], load_entry_points=False)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def terminate_backends(postgres_url: str, application_name: str) -> list[int]:
    """Kill the server side of every connection tagged ``application_name`` (what a restart does to a pool).

    Returns the killed backends' pids once PostgreSQL has ended them all.
    """
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        pids = [
            row["pid"]
            for row in await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1", application_name
            )
        ]
        await connection.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", pids)
        async with asyncio.timeout(10):
            while await connection.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", pids):
                await asyncio.sleep(0.02)
        return pids
    finally:
        await connection.close()
