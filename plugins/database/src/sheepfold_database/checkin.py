"""Giving a borrowed driver connection back as it was lent: asyncpg's ``reset()``, as asyncpg's own pool does.

SQLAlchemy's return of a connection to its pool only rolls back what
SQLAlchemy itself began. A borrower of the bare driver connection can leave
far more on the server's session: ``SET search_path``, a ``BEGIN`` never
ended, a ``LISTEN``, an advisory lock. With a pool, the next request (maybe
another tenant's) would get all of it, and SQLAlchemy's next transaction on
that connection fails with ``InterfaceError``. :func:`reset_session` undoes
it; temporary tables and prepared statements stay, as with asyncpg's pool.
"""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships neither type hints nor stubs


async def reset_session(connection: Any) -> None:
    """Return ``connection``'s server session to its state at connect (settings given at connect included).

    On asyncpg: roll back an open transaction, then ``Connection.reset()``
    (``RESET ALL``, ``UNLISTEN *``, ``CLOSE ALL``, advisory locks released):
    one round trip, two when a transaction was left open. Other drivers
    (aiosqlite) have no session state beyond the transaction, which
    SQLAlchemy's own return rolls back. Raises whatever the driver raises when
    the connection is lost; the connection must then be dropped.
    """
    if not isinstance(connection, asyncpg.Connection):
        return
    if connection.is_in_transaction():
        # reset() would roll it back too, but report it to the event loop's exception handler as an error;
        # a transaction left open is what a handler that raised leaves, nothing to log.
        await connection.execute("ROLLBACK")
    await connection.reset()


def abandon(connection: Any) -> None:
    """Close ``connection`` at once, without a word to the server (its session is in an unknown state)."""
    if isinstance(connection, asyncpg.Connection):
        connection.terminate()
