"""Building the app's async engine from :class:`DatabaseSettings`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sheepfold_database.errors import DatabaseUnavailable, as_unavailable, describe_error
from sheepfold_database.pool import WatchedQueuePool
from sheepfold_database.pre_ping import PrePing
from sheepfold_database.settings import DatabaseSettings


def connect_arguments(settings: DatabaseSettings) -> dict[str, Any]:
    """Driver arguments: asyncpg gets its connect timeout and per-connection server settings."""
    if settings.url.get_driver_name() != "asyncpg":
        return {}
    server_settings = {"application_name": settings.application_name}
    arguments: dict[str, Any] = {"timeout": settings.connect_timeout, "server_settings": server_settings}
    if settings.statement_timeout:
        server_settings["statement_timeout"] = str(int(settings.statement_timeout * 1000))
        # The client's own limit, a second later: a server that stopped answering cannot cancel anything.
        arguments["command_timeout"] = settings.statement_timeout + CLIENT_TIMEOUT_MARGIN
    if settings.schema:
        server_settings["search_path"] = settings.schema
    return arguments


CLIENT_TIMEOUT_MARGIN = 1.0


def build_engine(
    settings: DatabaseSettings, *, pool_size: int | None = None, max_overflow: int | None = None
) -> AsyncEngine:
    """The engine with a :class:`WatchedQueuePool` sized by settings (or by the arguments). No I/O.

    An in-memory SQLite database exists only inside its one connection, so
    its pool holds exactly one, never recycled: callers queue for it, as they
    would for SQLite's single writer anyway. A connection that cannot be
    opened, or a statement the server leaves unanswered past the client's
    timeout, raises :class:`DatabaseUnavailable`.
    """
    memory = settings.is_memory
    engine = create_async_engine(
        settings.url,
        poolclass=WatchedQueuePool,
        pool_size=1 if memory else (pool_size or settings.pool_size),
        max_overflow=0 if memory else (settings.max_overflow if max_overflow is None else max_overflow),
        pool_timeout=settings.pool_timeout,
        pool_recycle=-1 if memory else settings.recycle,
        pool_pre_ping=False,  # sheepfold's own, cheaper pre-ping below
        connect_args=connect_arguments(settings),
    )
    event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    event.listen(engine.sync_engine, "handle_error", _unanswered_is_unavailable)
    if settings.pre_ping:
        pool = engine.sync_engine.pool
        assert isinstance(pool, WatchedQueuePool)
        pool.pre_ping = PrePing(engine.dialect, idle=settings.pre_ping_idle)
    return engine


def _connect_or_unavailable(dialect: Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
    # asyncpg lets its errors at connect through unwrapped (OSError, TimeoutError, "the database system is
    # starting up", "too many clients"); make the "not now" ones one error the app answers 503 to.
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, TimeoutError) as error:
        raise DatabaseUnavailable(f"cannot connect to the database: {describe_error(error)}") from error
    except Exception as error:
        unavailable = as_unavailable(error)
        if unavailable is error:
            raise
        raise unavailable from error


def _unanswered_is_unavailable(context: ExceptionContext) -> None:
    # asyncpg raises a bare TimeoutError when its command_timeout passes, and may let a socket's OSError
    # through; SQLAlchemy wraps neither. The connection is unusable after both.
    error = context.original_exception
    if isinstance(error, OSError):  # TimeoutError included
        context.is_disconnect = True
        reason = "did not answer in time" if isinstance(error, TimeoutError) else f"was lost ({describe_error(error)})"
        raise DatabaseUnavailable(f"the database connection {reason}") from error
