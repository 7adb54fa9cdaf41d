"""Database failures: the error a refused connection becomes, and 503 problems for what is not a bug."""

from __future__ import annotations

import logging

from blacksheep import Application, Request, Response
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from sheepfold import BackendUnavailable, problem
from sheepfold_database.settings import DatabaseSettings

logger = logging.getLogger("sheepfold.database")
_QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout
# SQLSTATEs of a lost connection: class 08 (asyncpg's "connection was closed in the middle of operation"
# is 08003), and the server shutting down or starting up (admin_shutdown, crash_shutdown, cannot_connect_now).
_CONNECTION_LOST_CLASS = "08"
_SERVER_GOING_AWAY = frozenset({"57P01", "57P02", "57P03"})


class DatabaseUnavailable(BackendUnavailable):
    """No connection to the database could be opened (refused, unreachable, timed out)."""


def describe_error(error: BaseException) -> str:
    """``Type: first line of the message``, for logs and ``/health`` (SQLAlchemy appends statements and links)."""
    cause = getattr(error, "orig", None) or error.__cause__ or error
    text = str(cause).strip()
    return f"{type(cause).__name__}: {text.splitlines()[0]}" if text else type(cause).__name__


def install_error_handlers(app: Application, settings: DatabaseSettings, registry: CollectorRegistry) -> None:
    """Answer 503 with ``Retry-After`` when the pool is exhausted, the database is down or too slow.

    A bad statement or a broken constraint is still the kernel's 500: that is
    a bug, and its cause goes to the log. Each 503 is counted in
    ``sheepfold_database_unavailable_total{reason}``.
    """
    failures = Counter(
        "sheepfold_database_unavailable",
        "Requests answered 503 because of the database, by reason.",
        ["reason"],
        registry=registry,
    )
    capacity = settings.pool_size + settings.max_overflow

    def unavailable(
        request: Request, reason: str, detail: str, error: BaseException, title: str = "Database unavailable"
    ) -> Response:
        failures.labels(reason).inc()
        logger.error("%s %s: %s (%s)", request.method, request.path, reason.replace("_", " "), describe_error(error))
        response = problem(503, detail, title=title)
        response.add_header(b"Retry-After", b"1")
        return response

    async def pool_timeout(_app: Application, request: Request, error: PoolTimeout) -> Response:
        detail = f"No database connection was free within {settings.pool_timeout:g} s (all {capacity} in use)."
        return unavailable(request, "pool_timeout", detail + " Try again shortly.", error, "Database pool exhausted")

    async def connect_failed(_app: Application, request: Request, error: DatabaseUnavailable) -> Response:
        return unavailable(request, "unreachable", "The database is unavailable. Try again shortly.", error)

    async def database_failed(app: Application, request: Request, error: DBAPIError) -> Response:
        if getattr(error.orig, "sqlstate", None) == _QUERY_CANCELED:
            detail = f"The database did not answer within statement_timeout ({settings.statement_timeout:g} s)."
            return unavailable(request, "statement_timeout", detail, error)
        sqlstate = getattr(error.orig, "sqlstate", None) or ""
        if (
            error.connection_invalidated
            or isinstance(error, (OperationalError, InterfaceError))
            or sqlstate.startswith(_CONNECTION_LOST_CLASS)
            or sqlstate in _SERVER_GOING_AWAY
        ):
            return unavailable(request, "connection_lost", "The database is unavailable. Try again shortly.", error)
        return await app.handle_internal_server_error(request, error)

    app.exceptions_handlers[PoolTimeout] = pool_timeout
    app.exceptions_handlers[DatabaseUnavailable] = connect_failed
    app.exceptions_handlers[DBAPIError] = database_failed
