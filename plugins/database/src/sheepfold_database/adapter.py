"""``SqlDatabase``: the database port on SQLAlchemy's async engine (asyncpg, aiosqlite)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import PoolProxiedConnection

from sheepfold.tasks import BackgroundTasks
from sheepfold_database.checkin import abandon, reset_session
from sheepfold_database.engine import build_engine
from sheepfold_database.errors import as_unavailable, describe_error
from sheepfold_database.greenlets import GreenletRunner
from sheepfold_database.pool import PoolFigures, WatchedQueuePool
from sheepfold_database.settings import DatabaseSettings

logger = logging.getLogger("sheepfold.database")


def _raise_unavailable(error: Exception) -> None:
    unavailable = as_unavailable(error)
    if unavailable is not error:
        raise unavailable from error


class SqlDatabase:
    """The app's engine, its session factory, and a probe connection of its own.

    :meth:`ping` goes through a small engine of its own beside the main pool, so
    a saturated pool never makes the database look down, and a health check
    never takes a connection from a request. Building it does no I/O. A
    check left to finish in the background is a task of ``tasks`` (the
    platform's; a private one when None).
    """

    def __init__(self, settings: DatabaseSettings, *, tasks: BackgroundTasks | None = None) -> None:
        self.settings = settings
        self.tasks = tasks if tasks is not None else BackgroundTasks()
        self._engine = build_engine(settings)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        # One connection kept for health checks, and two more for health checks that overlap; in
        # autocommit, so a check is one round trip (no BEGIN, no ROLLBACK).
        self._probe = build_engine(settings, pool_size=1, max_overflow=2).execution_options(
            isolation_level="AUTOCOMMIT"
        )
        # driver_connection's checkout and return, once per request each, on kept greenlets.
        self._greenlets = GreenletRunner(keep=settings.pool_size + settings.max_overflow)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    @property
    def pool(self) -> WatchedQueuePool:
        """The engine's pool now (``engine.dispose()`` replaces it)."""
        pool = self._engine.pool
        assert isinstance(pool, WatchedQueuePool)
        return pool

    def figures(self, *, reset_peaks: bool = False) -> PoolFigures:
        """The pool's figures; ``reset_peaks`` starts a new high-water interval (the monitor's samples)."""
        return self.pool.sample(reset_peaks=reset_peaks)

    @contextlib.asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """The driver's connection, checked out of the watched pool and returned to it reset on exit.

        On exit, whether the block returned, raised or was cancelled, the
        connection's session is reset as asyncpg's own pool resets it (see
        ``sheepfold_database.checkin``), so the next checkout sees nothing
        of this one. A connection that cannot be reset (lost, or interrupted
        while resetting) is closed and dropped from the pool instead; a lost
        one is logged, not raised, as the block's work is done.

        A "not now" failure of the database (lost connection, the server
        starting up or shutting down, no connection slot: see
        ``sheepfold_database.errors.not_now_reason``), at checkout or in
        the block, raises :class:`~sheepfold_database.errors.DatabaseUnavailable`
        from the driver's error (the app answers 503); other errors pass as raised.
        """
        # What AsyncEngine.raw_connection() does, on a kept greenlet (see sheepfold_database.greenlets).
        try:
            pooled = await self._greenlets.run(self._engine.sync_engine.raw_connection)
        except Exception as error:
            _raise_unavailable(error)
            raise
        try:
            yield pooled.driver_connection
        except Exception as error:
            _raise_unavailable(error)
            raise
        finally:
            await self._check_in(pooled)

    async def _check_in(self, pooled: PoolProxiedConnection) -> None:
        try:
            await reset_session(pooled.driver_connection)
        except BaseException as error:
            abandon(pooled.driver_connection)
            # Dropping it from the pool may close it, which on an asyncio driver must run in a greenlet too.
            await self._greenlets.run(pooled.invalidate)
            if not isinstance(error, Exception):
                raise  # cancelled while resetting: the cancellation goes on
            logger.warning("a driver connection could not be reset (%s); dropped from the pool", describe_error(error))
        else:
            # Returning it may roll back, which on an asyncio driver must run in a greenlet too.
            await self._greenlets.run(pooled.close)

    async def ping(self) -> None:
        """Run ``SELECT 1`` on the probe connection; raise if it fails or takes over ``health_timeout`` s.

        The answer comes in time even from a database that accepts but never
        answers: SQLAlchemy then closes the connection politely (for up to
        2 s), and that is left to finish in the background.
        """
        await self.probe("SELECT 1")

    async def probe(self, statement: str) -> tuple[Any, ...] | None:
        """Run ``statement`` on the probe connection, as :meth:`ping` does; its first row (None: no row).

        For checks that must not take a connection from the pool (a replica's
        lag): the same connection, the same ``health_timeout``.
        """
        # The check reports through `answered`, so the caller stops waiting at the timeout while the
        # check (cancelled) ends in the background; a failure it meets then is only a debug line.
        answered: asyncio.Future[tuple[Any, ...] | None] = asyncio.get_running_loop().create_future()
        check = self.tasks.spawn(self._first_row(statement, answered), name="sheepfold-database-ping")
        try:
            return await asyncio.wait_for(answered, self.settings.health_timeout)
        except BaseException:
            check.cancel()
            raise

    async def _first_row(self, statement: str, answered: asyncio.Future[tuple[Any, ...] | None]) -> None:
        try:
            async with self._probe.connect() as connection:
                row = (await connection.exec_driver_sql(statement)).first()
            first = None if row is None else tuple(row)
        except Exception as error:
            if not answered.done():
                answered.set_exception(error)
        else:
            if not answered.done():
                answered.set_result(first)

    async def start(self) -> None:
        """Check that the database answers; log (never raise) when it does not, so the app still starts."""
        try:
            await self.ping()
        except Exception as error:
            logger.error(
                "database at %s does not answer at start-up (%s); serving anyway, /health reports it down",
                self.settings.safe_url,
                describe_error(error),
            )
        else:
            logger.info("database at %s answers", self.settings.safe_url)

    async def close(self) -> None:
        await self._engine.dispose()
        await self._probe.dispose()
