"""The database port: an async SQLAlchemy engine and its session factory, shared by every plugin.

The kernel knows only this shape; ``sheepfold-database`` implements it. The
SQLAlchemy types are imported for type checkers only, so ``pip install
./kernel`` pulls in no SQLAlchemy and a kernel-only app imports none.

The database is not a capability behind a
:class:`~sheepfold.fallback.FallbackSwitch`: rows cannot be moved between
two databases transparently the way cache entries can be dropped. Its "memory
fallback" is a choice made in settings: ``sqlite+aiosqlite:///:memory:``, the
default, so a platform runs without PostgreSQL.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


@runtime_checkable
class Database(Protocol):
    """One database for the whole app: its engine, its session factory, its health.

    Route handlers declare what they need and receive it through BlackSheep's
    dependency injection: ``db: Database``, ``engine: AsyncEngine``, or
    ``session: AsyncSession`` (one session per request, closed, and so rolled
    back unless committed, when the handler returns). Other plugins find it
    with ``platform.find(Database)``.
    """

    @property
    def engine(self) -> AsyncEngine:
        """The app's async engine (its pool is sized and watched by settings ``[database]``)."""
        ...

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Makes ``AsyncSession`` objects bound to :attr:`engine` (``async with db.sessions() as s``)."""
        ...

    def driver_connection(self) -> AbstractAsyncContextManager[Any]:
        """Borrow the driver's own connection (``asyncpg.Connection``) from the pool, for hot paths.

        ``async with db.driver_connection() as connection: await connection.fetchval(...)``.
        The connection is sized, watched and pre-pinged like every pooled
        one, but its statements bypass SQLAlchemy, and so the N+1 watch; no
        transaction is opened unless the caller opens one. On exit, even by an
        exception or a cancellation, it goes back to the pool reset (no open
        transaction, session settings back to their defaults), or is dropped
        from the pool when it cannot be reset.
        """
        ...

    async def ping(self) -> None:
        """Raise unless the database answers a trivial query (uses a connection outside the pool)."""
        ...

    async def start(self) -> None:
        """Check that the database answers; log, and do not fail, when it does not (``/health`` says so)."""
        ...

    async def close(self) -> None:
        """Close every pooled connection."""
        ...
