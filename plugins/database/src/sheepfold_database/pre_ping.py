"""Pre-ping that costs nothing for a busy connection: the "validate after inactivity" of HikariCP.

SQLAlchemy's ``pool_pre_ping`` sends a round trip (three on asyncpg: BEGIN,
``;``, ROLLBACK) before every checkout, which doubles the work of a short
request. A restarted or killed server closes its side of every connection,
and the driver sees the socket close while the connection sits in the pool,
so this check is free for that case: a connection the driver knows to be
closed is never handed out. A connection idle for longer than ``idle``
seconds (HikariCP bypasses validation for 0.5 s after a use) is pinged as
well, for the silent failures a closed socket does not reveal; ``idle`` 0
pings on every checkout, as SQLAlchemy does.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

_IDLE_SINCE = "sheepfold_idle_since"


def install_pre_ping(engine: AsyncEngine, *, idle: float) -> None:
    """Check every connection on checkout: closed ones are replaced, ones idle over ``idle`` s pinged first."""
    dialect = engine.dialect
    clock = time.monotonic

    def mark_idle(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = clock()

    def check(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        is_closed = getattr(dbapi_connection.driver_connection, "is_closed", None)
        if is_closed is not None and is_closed():
            raise DisconnectionError("the server closed this connection")
        if clock() - record.info.get(_IDLE_SINCE, 0.0) <= idle:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:
            alive = False
            reason = f"pre-ping failed: {type(error).__name__}"
        else:
            reason = "pre-ping failed"
        if not alive:
            # As SQLAlchemy's pre-ping does: the server likely restarted, so every older connection is suspect.
            raise InvalidatePoolError(reason)

    event.listen(engine.sync_engine, "connect", mark_idle)
    event.listen(engine.sync_engine, "checkin", mark_idle)
    event.listen(engine.sync_engine, "checkout", check)
