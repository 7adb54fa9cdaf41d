"""The per-request database context: the request's ``AsyncSession`` and its statement count."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from blacksheep import Request, Response
from blacksheep.server.bindings import ServiceBinder
from rodi import ActivationScope, Services
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sheepfold_database.routing import ReadOnlySession
from sheepfold_database.statements import StatementWatch

Handler = Callable[[Request], Awaitable[Response]]
logger = logging.getLogger("sheepfold.database")
#: The provider ``ActivationScope()`` makes anew for each scope, empty: one serves every request's scope.
_EMPTY_PROVIDER = Services()


class RequestDatabaseContext:
    """A middleware that gives each request one DI scope, counts its statements, and closes its sessions.

    rodi keeps a scoped service (the ``AsyncSession`` a handler declares) in
    the request's activation scope; BlackSheep makes one per resolution
    unless ``request._di_scope`` is set, so this middleware sets it (or uses
    the one ``di_scope_middleware`` set) and, after the handler, closes the
    sessions it finds there (the ``AsyncSession``, the ``ReadOnlySession``).
    Closing an uncommitted session rolls it back.

    A :class:`sheepfold.app.HandlerWrapper`: in the kernel's app it wraps the
    rest of each route's chain itself, one coroutine frame per request. When
    it wraps a route, it gives the route's ``AsyncSession`` parameters a
    :class:`RequestSessionBinder`.
    """

    def __init__(self, watch: StatementWatch | None, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.watch = watch
        self.sessions = sessions

    async def __call__(self, request: Request, handler: Handler) -> Response:
        return await self.wrap(handler)(request)

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` (the rest of a route's chain) in a database context."""
        self._bind_sessions(handler)
        watch = self.watch

        async def in_context(request: Request) -> Response:
            scope: ActivationScope | None = getattr(request, "_di_scope", None)
            own_scope = scope is None
            if scope is None:
                scope = ActivationScope(_EMPTY_PROVIDER)
                request._di_scope = scope  # type: ignore[attr-defined]  # BlackSheep's DI reads this undeclared attribute
            token = watch.begin(request) if watch is not None else None
            try:
                return await handler(request)
            finally:
                if watch is not None and token is not None:
                    watch.end(token)
                # rodi types this dict with a type variable it never binds; it holds the AsyncSession under its class.
                services: dict[Any, Any] = scope.scoped_services or {}
                session: AsyncSession | None = services.get(AsyncSession)
                if session is not None:
                    await _close(session)
                read_only: ReadOnlySession | None = services.get(ReadOnlySession)
                if read_only is not None:
                    await _close(read_only)
                if own_scope:
                    scope.dispose()  # type: ignore[no-untyped-call]  # unannotated in rodi

        return in_context

    def _bind_sessions(self, handler: Handler) -> None:
        # BlackSheep's normalised handler reads its parameters with the binders in this list (the one list,
        # which its wrappers and the middleware chain carry as `binders`; pinned: pyproject.toml).
        binders: list[Any] | None = getattr(handler, "binders", None)
        for index, binder in enumerate(binders or ()):
            if type(binder) is ServiceBinder and binder.expected_type is AsyncSession:
                assert binders is not None
                binders[index] = RequestSessionBinder(self.sessions, binder.parameter_name)


class RequestSessionBinder(ServiceBinder):
    """The request's ``AsyncSession``, made on first use and kept in the request's DI scope, as rodi keeps it.

    Takes the place of BlackSheep's ``ServiceBinder`` for a handler parameter
    annotated ``AsyncSession``: the same session rodi's scoped factory would
    give (and gives a service that depends on one), without the five calls of
    a resolution through the container on every request.
    """

    # BlackSheep registers a binder class by its `handle` (a second FromServices would raise).
    handle = None  # type: ignore[assignment]  # no handle: it stands in for ServiceBinder, handling nothing new

    def __init__(self, sessions: async_sessionmaker[AsyncSession], name: str) -> None:
        super().__init__(AsyncSession, name, implicit=True)
        self.sessions = sessions

    async def get_value(self, request: Request) -> AsyncSession:
        # rodi types this dict with a type variable it never binds; it holds the AsyncSession under its class.
        services: dict[Any, Any] = request._di_scope.scoped_services  # type: ignore[attr-defined]  # set by the context
        session: AsyncSession | None = services.get(AsyncSession)
        if session is None:
            session = services[AsyncSession] = self.sessions()
        return session


async def _close(session: AsyncSession) -> None:
    # The answer is already made: a connection that dies as it is returned must not turn it into a 500.
    try:
        await session.close()
    except Exception:
        logger.warning("closing a request's database session failed", exc_info=True)
