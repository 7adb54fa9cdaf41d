"""The per-request database context: the request's ``AsyncSession`` and its statement count."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from blacksheep import Request, Response
from rodi import ActivationScope
from sqlalchemy.ext.asyncio import AsyncSession

from sheepfold_database.routing import ReadOnlySession
from sheepfold_database.statements import StatementWatch

Handler = Callable[[Request], Awaitable[Response]]
logger = logging.getLogger("sheepfold.database")


def request_database_context(watch: StatementWatch | None) -> Callable[[Request, Handler], Awaitable[Response]]:
    """A middleware that gives each request one DI scope, counts its statements, and closes its sessions.

    rodi keeps a scoped service (the ``AsyncSession`` a handler declares) in
    the request's activation scope; BlackSheep makes one per resolution
    unless ``request._di_scope`` is set, so this middleware sets it (or uses
    the one ``di_scope_middleware`` set) and, after the handler, closes the
    sessions it finds there (the ``AsyncSession``, the ``ReadOnlySession``).
    Closing an uncommitted session rolls it back.
    """

    async def middleware(request: Request, handler: Handler) -> Response:
        scope: ActivationScope | None = getattr(request, "_di_scope", None)
        own_scope = scope is None
        if scope is None:
            scope = ActivationScope()
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

    return middleware


async def _close(session: AsyncSession) -> None:
    # The answer is already made: a connection that dies as it is returned must not turn it into a 500.
    try:
        await session.close()
    except Exception:
        logger.warning("closing a request's database session failed", exc_info=True)
