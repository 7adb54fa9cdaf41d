"""``ReadRouter``: makes read-only sessions, tracks each request's writes, and keeps read-your-writes across instances.

Read-your-writes: when a request of a signed-in user commits on the primary,
a marker ``database:wrote:<subject>`` is stored through the kernel's State
port with a TTL of ``database.read_your_writes`` seconds, before the
response leaves; while it lives, that user's read-only sessions read from
the primary, on every instance that shares the State backend. A marker that
cannot be trusted (the State answered from its per-instance fallback) counts
as present. Anonymous callers have no marker: their reads follow their
writes within a request only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from blacksheep import Request, Response
from blacksheep.server.bindings import Binder
from sqlalchemy import event
from sqlalchemy.engine import Connection

from sheepfold.identity import Identity
from sheepfold.platform import Platform
from sheepfold.tally import TallyCounter
from sheepfold_database.adapter import SqlDatabase
from sheepfold_database.replicas import ReplicaSet
from sheepfold_database.routing import ReadOnlySession, ReadRoute, RequestReads, current_request_reads

logger = logging.getLogger("sheepfold.database.replicas")
Handler = Callable[[Request], Awaitable[Response]]


class ReadRouter:
    """Where read-only sessions read: a replica in service, or the primary when reading there is what is right.

    Provided as a service: handlers declare ``session: ReadOnlySession``
    (made by :meth:`session_for`), other code uses :meth:`session`. With no
    replica configured, read-only sessions read from the primary. Commits on
    the primary during a request (SQLAlchemy's ``commit`` event: sessions,
    ``engine.begin()``) mark the request as having written; a write made
    where SQLAlchemy cannot see it (``driver_connection()``) is declared
    with :meth:`note_write`.
    """

    def __init__(self, primary: SqlDatabase, replicas: ReplicaSet | None, window: float, platform: Platform) -> None:
        self.replicas = replicas
        self.window = window
        self._platform = platform
        self._state = platform.capabilities.get("state")
        self._names = platform.namespace("database")
        self._writes_of = primary.engine.sync_engine
        # On PostgreSQL a read-only session's transactions on the primary are READ ONLY, as on a replica.
        engine = primary.engine
        if primary.settings.is_postgresql:
            engine = engine.execution_options(postgresql_readonly=True)
        self._primary = engine.sync_engine
        self._reads = TallyCounter(
            "sheepfold_database_reads",
            "Statements of read-only sessions, by the server that ran them (a replica's name, or primary) and why.",
            ["server", "reason"],
            platform.metrics.registry,
        )
        if replicas is not None:
            event.listen(self._writes_of, "commit", self._on_commit)

    def close(self) -> None:
        if self.replicas is not None:
            event.remove(self._writes_of, "commit", self._on_commit)

    @contextlib.asynccontextmanager
    async def session(self, identity: Identity | None = None) -> AsyncIterator[ReadOnlySession]:
        """A read-only session for code outside a handler (a job, a WebSocket), closed on exit.

        ``identity``: whom it reads for, so that user's recent writes are
        read from the primary; None reads as for an anonymous caller.
        """
        async with await self._new_session(current_request_reads.get(), identity) as session:
            yield session

    async def session_for(self, request: Request) -> ReadOnlySession:
        """The request's read-only session (one per request), closed after the handler as its ``AsyncSession`` is.

        It is kept in the request's DI scope, which ``RequestDatabaseContext``
        set up and empties after the handler, closing the sessions it holds.
        """
        # BlackSheep's private per-request DI scope, as middleware.py uses it (pinned: pyproject.toml).
        services: dict[Any, Any] = request._di_scope.scoped_services  # type: ignore[attr-defined]  # undeclared
        session: ReadOnlySession | None = services.get(ReadOnlySession)
        if session is None:
            reads = current_request_reads.get()
            identity = await self._platform.identify(request) if self._primary_reason(reads) is None else None
            session = services[ReadOnlySession] = await self._new_session(reads, identity)
        return session

    def note_write(self) -> None:
        """Count the request being served as having written (a write SQLAlchemy did not see)."""
        reads = current_request_reads.get()
        if reads is not None:
            reads.wrote = True

    async def wrote_recently(self, identity: Identity) -> bool:
        """True while ``identity``'s read-your-writes marker lives, or when the State cannot tell (one ``GET``)."""
        if self.window <= 0 or identity.subject is None or self._state is None:
            return False
        marker, from_backend = await self._state.answer_of(self._state.port.get(self._marker(identity.subject)))
        return marker is not None or (self._state.has_fallback and not from_backend)

    async def remember_write(self, identity: Identity) -> None:
        """Store ``identity``'s read-your-writes marker for ``window`` seconds (one ``SET``); nothing for anonymous."""
        if self.window > 0 and identity.subject is not None and self._state is not None:
            await self._state.port.set(self._marker(identity.subject), b"1", ttl=self.window)

    def middleware(self) -> Callable[[Request, Handler], Awaitable[Response]]:
        """Around every handler (installed with replicas only): track the request's writes, remember its writer."""

        async def read_routing(request: Request, handler: Handler) -> Response:
            reads = RequestReads()
            token = current_request_reads.set(reads)
            try:
                return await handler(request)
            finally:
                current_request_reads.reset(token)
                if reads.wrote:
                    await self._remember_writer(request)

        return read_routing

    def _primary_reason(self, reads: RequestReads | None) -> str | None:
        """Why a new session must read from the primary, as far as can be told without I/O; None: it may not."""
        if self.replicas is None or not self.replicas.any_in_service:
            return "no_replica"
        if reads is not None and reads.wrote:
            return "wrote"
        return None

    async def _new_session(self, reads: RequestReads | None, identity: Identity | None) -> ReadOnlySession:
        reason = self._primary_reason(reads)
        if reason is None and identity is not None and await self.wrote_recently(identity):
            reason = "recent_write"
        replica = self.replicas.pick() if reason is None and self.replicas is not None else None
        if reason is None and replica is None:
            reason = "no_replica"  # the last replica was taken out while the marker was read
        route = ReadRoute(
            self._primary, self._reads, reads=reads, replicas=self.replicas, replica=replica, primary_reason=reason
        )
        return ReadOnlySession(route=route, expire_on_commit=False)

    async def _remember_writer(self, request: Request) -> None:
        # The answer is made: a State that fails here must not turn it into an error (the switch already
        # answers outages from its fallback); the writer may then read a replica within the window.
        try:
            await self.remember_write(await self._platform.identify(request))
        except Exception:
            logger.warning(
                "could not store a read-your-writes marker for %s %s", request.method, request.path, exc_info=True
            )

    def _on_commit(self, connection: Connection) -> None:
        if connection.get_execution_options().get("postgresql_readonly"):
            return  # a read-only session's transaction: nothing was written
        reads = current_request_reads.get()
        if reads is not None:
            reads.wrote = True

    def _marker(self, subject: str) -> str:
        key: str = self._names.key("wrote", subject)
        return key


class ReadOnlySessionBinder(Binder):
    """BlackSheep binder: a handler parameter annotated ``ReadOnlySession`` gets one from the :class:`ReadRouter`."""

    type_alias = ReadOnlySession

    def __init__(self, router: ReadRouter) -> None:
        super().__init__(ReadOnlySession, "read_only_session", implicit=True)
        self.router = router

    @classmethod
    def from_alias(cls, services: Any) -> ReadOnlySessionBinder:
        return cls(services.resolve(ReadRouter))

    async def get_value(self, request: Request) -> ReadOnlySession:
        return await self.router.session_for(request)
