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
# is 08003; a server stopping with "fast" ends its sessions so).
_CONNECTION_LOST_CLASS = "08"
# The server's own "not now": shutting down (admin_shutdown, crash_shutdown), starting up or in recovery
# (cannot_connect_now), out of connection slots (too_many_connections).
_NOT_NOW = {"57P01": "shutting_down", "57P02": "shutting_down", "57P03": "starting_up", "53300": "too_many_connections"}
#: How deep :func:`not_now_reason` follows an error's causes (SQLAlchemy's wrapper, the driver's adapter, the driver).
_CAUSE_DEPTH = 6


class DatabaseUnavailable(BackendUnavailable):
    """The database cannot serve now: no connection could be opened, or it was lost, or the server said "not now".

    ``reason`` is one of ``unreachable``, ``connection_lost``, ``starting_up``,
    ``shutting_down``, ``too_many_connections`` (the label of
    ``sheepfold_database_unavailable_total``). Raised by ``driver_connection()``
    for such failures inside its block too, with the driver's error as its cause.
    """

    def __init__(self, message: str, reason: str = "unreachable") -> None:
        super().__init__(message)
        self.reason = reason


def not_now_reason(error: BaseException) -> str | None:
    """Why ``error`` means the database cannot serve now (a 503 reason); None when it is the request's own.

    Follows the error's causes (SQLAlchemy's ``orig``, ``__cause__``,
    ``__context__``): a :class:`DatabaseUnavailable`, a SQLSTATE of class 08
    or in 57P01/57P02/57P03/53300, or a socket error (refused, reset) anywhere
    in the chain answers.
    """
    cause: BaseException | None = error
    for _ in range(_CAUSE_DEPTH):
        if cause is None:
            return None
        if isinstance(cause, DatabaseUnavailable):
            return cause.reason
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str):
            if sqlstate in _NOT_NOW:
                return _NOT_NOW[sqlstate]
            if sqlstate.startswith(_CONNECTION_LOST_CLASS):
                return "connection_lost"
        if isinstance(cause, OSError):  # refused, reset, unreachable; TimeoutError included
            return "connection_lost"
        orig = getattr(cause, "orig", None)
        cause = orig if isinstance(orig, BaseException) else (cause.__cause__ or cause.__context__)
    return None


def unavailable_reason(error: BaseException) -> str | None:
    """:func:`not_now_reason`, or ``connection_lost`` for a connection SQLAlchemy found unusable; None: a bug.

    Unusable: SQLAlchemy invalidated the connection, or the driver's error is
    an ``OperationalError`` or ``InterfaceError``.
    """
    reason = not_now_reason(error)
    lost = isinstance(error, DBAPIError) and (
        error.connection_invalidated or isinstance(error, (OperationalError, InterfaceError))
    )
    return "connection_lost" if reason is None and lost else reason


def as_unavailable(error: Exception) -> Exception:
    """``error`` as a :class:`DatabaseUnavailable` when it means "not now" (raise it ``from error``), else itself."""
    if isinstance(error, DatabaseUnavailable):
        return error
    reason = not_now_reason(error)
    if reason is None:
        return error
    return DatabaseUnavailable(
        f"the database cannot serve now ({reason.replace('_', ' ')}): {describe_error(error)}", reason
    )


_UNAVAILABLE = "The database is unavailable. Try again shortly."
_DETAILS = {
    "starting_up": "The database is starting up. Try again shortly.",
    "shutting_down": "The database is shutting down. Try again shortly.",
    "too_many_connections": "The database has no connection slot free. Try again shortly.",
}


def describe_error(error: BaseException) -> str:
    """``Type: first line of the message``, for logs and ``/health`` (SQLAlchemy appends statements and links)."""
    cause = getattr(error, "orig", None) or error.__cause__ or error
    text = str(cause).strip()
    return f"{type(cause).__name__}: {text.splitlines()[0]}" if text else type(cause).__name__


def install_error_handlers(app: Application, settings: DatabaseSettings, registry: CollectorRegistry) -> None:
    """Answer 503 with ``Retry-After`` when the pool is exhausted, the database is down, busy or too slow.

    "Not now" is every state a restart or an overload puts the server in
    (see :func:`not_now_reason`), whether met through the request's
    ``AsyncSession`` (SQLAlchemy's errors) or ``driver_connection()`` (which
    raises :class:`DatabaseUnavailable`).

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
        return unavailable(request, error.reason, _DETAILS.get(error.reason, _UNAVAILABLE), error)

    async def database_failed(app: Application, request: Request, error: DBAPIError) -> Response:
        if getattr(error.orig, "sqlstate", None) == _QUERY_CANCELED:
            detail = f"The database did not answer within statement_timeout ({settings.statement_timeout:g} s)."
            return unavailable(request, "statement_timeout", detail, error)
        reason = unavailable_reason(error)
        if reason is not None:
            return unavailable(request, reason, _DETAILS.get(reason, _UNAVAILABLE), error)
        return await app.handle_internal_server_error(request, error)

    app.exceptions_handlers[PoolTimeout] = pool_timeout
    app.exceptions_handlers[DatabaseUnavailable] = connect_failed
    app.exceptions_handlers[DBAPIError] = database_failed
