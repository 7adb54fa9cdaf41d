"""``ReadOnlySession``: an ``AsyncSession`` whose reads a replica may serve, and what sends them to the primary.

Nothing is guessed from SQL text: a session reads from a replica only when
its caller asked for a read-only session. Each statement's server is chosen
when it runs (SQLAlchemy asks ``Session.get_bind`` once per execution), so a
session moves to the primary, for the rest of its life, as soon as the
request it serves has written, its replica is taken out of service, or its
replica fails under it; the statement that met the failure runs again on
the primary. A read-only session never writes: on PostgreSQL its
transactions are ``READ ONLY`` on the primary too, so a write through one
fails the same way wherever it runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from sheepfold.tally import TallyCounter
from sheepfold_database.errors import describe_error, unavailable_reason

if TYPE_CHECKING:
    from sheepfold_database.replicas import Replica, ReplicaSet


class RequestReads:
    """What one request did that decides where its reads go: whether it wrote."""

    __slots__ = ("wrote",)

    def __init__(self) -> None:
        self.wrote = False


#: The request being served (set by the read-routing middleware, installed with replicas); else None.
current_request_reads: ContextVar[RequestReads | None] = ContextVar("sheepfold_database_request_reads", default=None)


class ReadRoute:
    """Where one read-only session's statements run: its replica until a reason sends it to the primary.

    ``primary_reason`` is None while the session reads from ``replica``;
    once set (``no_replica``, ``recent_write``, ``wrote``, ``replica_out``,
    ``failed_over``) every later statement runs on the primary. Each
    statement is counted in ``sheepfold_database_reads_total{server,reason}``.
    """

    __slots__ = ("_count", "_primary", "_replicas", "primary_reason", "reads", "replica")

    def __init__(
        self,
        primary: Engine,
        counter: TallyCounter,
        *,
        reads: RequestReads | None,
        replicas: ReplicaSet | None = None,
        replica: Replica | None = None,
        primary_reason: str | None = None,
    ) -> None:
        if replica is None and primary_reason is None:
            raise ValueError("a read route has a replica or a reason to read from the primary")
        self._primary = primary
        self._count = counter
        self._replicas = replicas
        self.reads = reads
        self.replica = replica
        self.primary_reason = primary_reason

    def bind(self) -> Engine:
        """The engine the next statement runs on."""
        reason = self.primary_reason
        if reason is None:
            replica = self.replica
            assert replica is not None
            if self.reads is not None and self.reads.wrote:
                reason = "wrote"
            elif not replica.in_service:
                reason = "replica_out"
            else:
                self._count.inc(replica.name, "replica")
                return replica.engine
            self.primary_reason = reason
        self._count.inc("primary", reason)
        return self._primary

    def replica_failed(self, error: Exception) -> bool:
        """True when ``error`` is the replica's failure (down, lost, starting up: see ``unavailable_reason``).

        The replica is then taken out of service and the statement must run
        again, on the primary. False for anything else: the statement's own
        error, or one met on the primary.
        """
        replica = self.replica
        if self.primary_reason is not None or replica is None or unavailable_reason(error) is None:
            return False
        self.primary_reason = "failed_over"
        if self._replicas is not None:
            self._replicas.take_out(replica, "down", f"a read failed: {describe_error(error)}")
        return True


class RoutedReadSession(Session):
    """The synchronous session under :class:`ReadOnlySession`: binds each statement by its :class:`ReadRoute`.

    ``execute``, ``scalar`` and ``scalars`` are every road a statement takes
    (``get``, lazy loads and ``Query`` go through ``execute``), so each runs
    a statement again on the primary when its replica failed under it.
    """

    def __init__(self, *args: Any, route: ReadRoute, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.route = route
        #: The connections of the session's transaction (a replica's, then maybe the primary's).
        self.connections: list[Connection] = []

    def get_bind(self, mapper: Any = None, *, clause: Any = None, bind: Any = None, **kwargs: Any) -> Any:
        return bind if bind is not None else self.route.bind()

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._again_on_primary_if_replica_failed(super().execute, args, kwargs)

    def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self._again_on_primary_if_replica_failed(super().scalar, args, kwargs)

    def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self._again_on_primary_if_replica_failed(super().scalars, args, kwargs)

    def close(self) -> None:
        # A replica that died under the session leaves a connection whose rollback fails, and SQLAlchemy's
        # close stops at the first connection that raises: the others (the primary's) would never go back
        # to their pools. A read-only transaction has nothing to undo, so each ends on its own first; a
        # lost connection is invalidated by SQLAlchemy as it fails.
        for connection in self.connections:
            with contextlib.suppress(Exception):
                connection.rollback()
        self.connections.clear()
        super().close()

    def _again_on_primary_if_replica_failed(
        self, run: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return run(*args, **kwargs)
        except Exception as error:
            if not self.route.replica_failed(error):
                raise
        return run(*args, **kwargs)  # binds to the primary now


@event.listens_for(RoutedReadSession, "after_begin")
def _remember_connection(session: RoutedReadSession, _transaction: Any, connection: Connection) -> None:
    session.connections.append(connection)


class ReadOnlySession(AsyncSession):
    """An ``AsyncSession`` for reads that a replica may serve: declare ``session: ReadOnlySession`` in a handler.

    Its statements run on a replica in service, chosen by weight, unless the
    request has written (from then on), the caller wrote within
    ``database.read_your_writes`` seconds, no replica is in service, or its
    replica fails (that statement runs again on the primary): then on the
    primary, without an error. It cannot write (``READ ONLY`` transactions
    on PostgreSQL). Like the request's ``AsyncSession`` there is one per
    request, closed when the handler returns. Outside a request,
    ``ReadRouter.session()`` makes one.
    """

    sync_session_class = RoutedReadSession
