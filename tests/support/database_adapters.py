"""Started ``SqlDatabase`` adapters for the database contract suite: SQLite in memory and in a file, PostgreSQL."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from sheepfold_database import SqlDatabase
from sheepfold_database.settings import DatabaseSettings


@contextlib.asynccontextmanager
async def _started(settings: DatabaseSettings) -> AsyncIterator[SqlDatabase]:
    database = SqlDatabase(settings)
    await database.start()
    try:
        yield database
    finally:
        await database.close()


def on_sqlite_memory(_request: pytest.FixtureRequest) -> contextlib.AbstractAsyncContextManager[SqlDatabase]:
    return _started(DatabaseSettings(url=make_url("sqlite+aiosqlite:///:memory:")))


def on_sqlite_file(request: pytest.FixtureRequest) -> contextlib.AbstractAsyncContextManager[SqlDatabase]:
    path = request.getfixturevalue("tmp_path") / "contract.db"
    return _started(DatabaseSettings(url=make_url(f"sqlite+aiosqlite:///{path}"), pool_size=3, max_overflow=1))


@contextlib.asynccontextmanager
async def on_postgresql(request: pytest.FixtureRequest, **settings: Any) -> AsyncIterator[SqlDatabase]:
    """The machine's database ``test``, in a schema of the test's own, dropped afterwards.

    ``settings`` are more :class:`DatabaseSettings` fields (a pool of one: ``pool_size=1, max_overflow=0``).
    """
    url = request.getfixturevalue("postgres_url")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    schema = f"sf_contract_{secrets.token_hex(5)}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        async with _started(
            DatabaseSettings(url=make_url(url), schema=schema, **{"pool_size": 3, "max_overflow": 1, **settings})
        ) as db:
            yield db
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
