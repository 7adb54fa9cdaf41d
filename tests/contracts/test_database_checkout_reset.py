"""The database port's contract on a pool of one PostgreSQL connection: a checkout finds nothing a previous
borrower of ``driver_connection()`` left behind (session settings, an open transaction, LISTENs, advisory
locks), whether that borrower returned, raised, was cancelled or lost its connection.

With one connection in the pool every checkout after the first gets the same connection (or, when it
had to be dropped, a fresh one), so anything that leaked would be seen by the next request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from sheepfold_database import SqlDatabase
from tests.support.database_adapters import on_postgresql

pytestmark = pytest.mark.postgres

# Everything a borrower can change for the rest of a session, read in one statement.
SESSION_STATE = """
SELECT current_setting('search_path') AS search_path,
       current_setting('statement_timeout') AS statement_timeout,
       current_setting('application_name') AS application_name,
       current_setting('work_mem') AS work_mem,
       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
       (SELECT count(*) FROM pg_listening_channels()) AS listening,
       pg_current_xact_id_if_assigned() IS NULL AS no_transaction_id
"""


class HandlerFailed(Exception):
    pass


@pytest.fixture
async def database(request):
    async with on_postgresql(request, pool_size=1, max_overflow=0) as adapter:
        yield adapter


async def driver_state(database: SqlDatabase) -> dict[str, Any]:
    async with database.driver_connection() as connection:
        assert not connection.is_in_transaction()
        state = dict(await connection.fetchrow(SESSION_STATE))
        return {**state, "pid": await connection.fetchval("SELECT pg_backend_pid()")}


async def session_state(database: SqlDatabase) -> dict[str, Any]:
    async with database.sessions() as session:
        row = (await session.execute(text(SESSION_STATE))).mappings().one()
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
        return {**dict(row), "pid": pid}


async def leave_everything_behind(connection: asyncpg.Connection) -> None:
    """What a careless handler does to its session: settings, a LISTEN, a lock, a transaction left open."""
    await connection.execute("SET search_path TO public")
    await connection.execute("SET statement_timeout = 4321")
    await connection.execute("SET application_name = 'leaked'")
    await connection.execute("LISTEN leaked")
    await connection.execute("SELECT pg_advisory_lock(4242)")
    await connection.execute("CREATE TEMP TABLE scratch (n int)")  # may stay: the contract allows temp tables
    await connection.execute("BEGIN")
    await connection.execute("SET work_mem = '7MB'")
    await connection.execute("INSERT INTO scratch VALUES (1)")


async def test_a_handler_that_returned_leaves_nothing_to_the_next_checkout(database):
    clean = await driver_state(database)
    async with database.driver_connection() as connection:
        await leave_everything_behind(connection)
    assert await driver_state(database) == clean  # the same connection (pid), reset
    assert await session_state(database) == clean


async def test_a_handler_that_raised_leaves_nothing_to_the_next_checkout(database):
    clean = await driver_state(database)
    assert clean["search_path"].strip('"') == database.settings.schema
    with pytest.raises(HandlerFailed):
        async with database.driver_connection() as connection:
            await leave_everything_behind(connection)
            raise HandlerFailed
    # The session first: before the reset, an open transaction made its BEGIN fail with InterfaceError.
    assert await session_state(database) == clean
    assert await driver_state(database) == clean


async def test_a_cancelled_handler_leaves_nothing_to_the_next_checkout(database):
    clean = await driver_state(database)
    started = asyncio.Event()

    async def handler() -> None:
        async with database.driver_connection() as connection:
            await leave_everything_behind(connection)
            started.set()
            await connection.execute("SELECT pg_sleep(30)")

    task = asyncio.create_task(handler())
    await started.wait()
    await asyncio.sleep(0.1)  # inside pg_sleep
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert database.figures().checked_out == 0
    after = await driver_state(database)
    assert {**after, "pid": None} == {**clean, "pid": None}  # reset, or dropped and replaced by a fresh one
    assert {**(await session_state(database)), "pid": None} == {**clean, "pid": None}


async def test_a_connection_that_cannot_be_reset_is_dropped_not_handed_out(request, postgres_url):
    # Without pre-ping nothing else would keep the dead connection from the next caller.
    async with on_postgresql(request, pool_size=1, max_overflow=0, pre_ping=False) as database:
        clean = await driver_state(database)
        admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            async with database.driver_connection() as connection:
                await connection.execute("SET search_path TO public")
                await admin.execute("SELECT pg_terminate_backend($1)", clean["pid"])
                async with asyncio.timeout(10):
                    while not connection.is_closed():
                        await asyncio.sleep(0.01)
        finally:
            await admin.close()
        after = await driver_state(database)
        assert after["pid"] != clean["pid"]
        assert {**after, "pid": None} == {**clean, "pid": None}
