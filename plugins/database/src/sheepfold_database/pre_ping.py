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

The pool (``sheepfold_database.pool.WatchedQueuePool``) calls it on the
record it takes from its queue, with the time it already read: pool events
(``checkout``, ``checkin``) would run SQLAlchemy's event dispatch twice per
request, which cost a session route about 25,000 instructions
(benchmarks/README.md).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.pool import ConnectionPoolEntry

logger = logging.getLogger("sheepfold.database")
_IDLE_SINCE = "sheepfold_idle_since"


class PrePing:
    """Checks a pooled connection before it is handed out; replaces a dead one."""

    def __init__(self, dialect: Any, *, idle: float) -> None:
        self.dialect = dialect
        self.idle = idle

    @staticmethod
    def mark_idle(record: ConnectionPoolEntry, now: float) -> None:
        """``record`` went back to the pool at ``now`` (``time.monotonic()``)."""
        record.info[_IDLE_SINCE] = now

    def alive(self, record: ConnectionPoolEntry, now: float) -> bool:
        """False when ``record``'s connection is closed or fails its ping; the caller replaces it then.

        A record without a connection (it reconnects on checkout) or never
        returned yet (opened just now) passes unchecked.
        """
        connection = record.dbapi_connection
        idle_since = record.info.get(_IDLE_SINCE)
        if connection is None or idle_since is None:
            return True
        is_closed = getattr(connection.driver_connection, "is_closed", None)
        if is_closed is not None and is_closed():
            return False
        if now - idle_since <= self.idle:
            return True
        try:
            return bool(self.dialect.do_ping(connection))
        except Exception as error:
            logger.debug("pre-ping failed: %s", type(error).__name__)
            return False
