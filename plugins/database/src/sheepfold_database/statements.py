"""The N+1 watch: counts each request's statements by shape and warns when one shape repeats too often."""

from __future__ import annotations

import functools
import logging
import re
from contextvars import ContextVar, Token
from typing import Any

from blacksheep import Request, Router
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger("sheepfold.database.statements")

_LITERALS = re.compile(r"'(?:[^']|'')*'|\$\d+|\b\d+(?:\.\d+)?\b|\?")
_LISTS = re.compile(r"\?(?:\s*,\s*\?)+")
_SHOWN_LENGTH = 300


@functools.lru_cache(maxsize=1024)
def statement_shape(statement: str) -> str:
    """``statement`` with literals and parameters as ``?`` and lists of them as one ``?, ...``.

    ``SELECT * FROM t WHERE id = $1`` and ``... WHERE id = 7`` have one shape:
    the same query for a different row. Cached: an application runs few
    distinct statements (SQLAlchemy binds parameters), each many times.
    """
    return _LISTS.sub("?, ...", _LITERALS.sub("?", " ".join(statement.split())))


class RequestStatements:
    """The statements one request ran, by shape, and the shapes already reported."""

    __slots__ = ("counts", "reported", "request")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.counts: dict[str, int] = {}
        self.reported: set[str] = set()


_current: ContextVar[RequestStatements | None] = ContextVar("sheepfold_database_statements", default=None)


#: The dialect's events of one statement sent to the driver (each listener returns None: the dialect still runs it).
_EXECUTE_EVENTS = ("do_execute", "do_execute_no_params", "do_executemany")


class StatementWatch:
    """Listens to the dialect's ``do_execute`` events and counts statements per request.

    Dialect events, not the engine's ``before_cursor_execute``: one engine
    listener turns on SQLAlchemy's event dispatch at every step of every
    connection (begin, execute, commit, rollback, each through a joined
    dispatcher made per connection), which cost a session route about a tenth
    of SQLAlchemy's own work (benchmarks/README.md); a dialect listener is
    called once per statement and nowhere else.

    When a request runs one shape more than ``threshold`` times, it logs a
    WARNING naming the route and the statement, once per request and shape,
    and counts it in ``sheepfold_database_n_plus_one_total{route}``.
    Statements outside a request (start-up, background tasks) are not counted.
    An ``executemany`` is one statement.
    """

    def __init__(self, engine: AsyncEngine, router: Router, registry: CollectorRegistry, *, threshold: int) -> None:
        self.threshold = threshold
        self._router = router
        self._engines: list[AsyncEngine] = []
        self._detections = Counter(
            "sheepfold_database_n_plus_one",
            "Requests that ran one statement shape more than database.n_plus_one_threshold times, by route.",
            ["route"],
            registry=registry,
        )
        self.listen(engine)

    def listen(self, engine: AsyncEngine) -> None:
        """Count the statements of ``engine`` too (a replica's), with the same threshold and metric."""
        for name in _EXECUTE_EVENTS:
            event.listen(engine.sync_engine.dialect, name, self._count)
        self._engines.append(engine)

    def close(self) -> None:
        for engine in self._engines:
            for name in _EXECUTE_EVENTS:
                event.remove(engine.sync_engine.dialect, name, self._count)

    def begin(self, request: Request) -> Token[RequestStatements | None]:
        """Start counting for ``request`` (the middleware calls it); pass the token to :meth:`end`."""
        return _current.set(RequestStatements(request))

    def end(self, token: Token[RequestStatements | None]) -> None:
        _current.reset(token)

    def _count(self, _cursor: Any, statement: str, *_args: Any) -> None:
        current = _current.get()
        if current is None:
            return
        shape = statement_shape(statement)
        count = current.counts.get(shape, 0) + 1
        current.counts[shape] = count
        if count > self.threshold and shape not in current.reported:
            current.reported.add(shape)
            self._report(current.request, shape, count)

    def _report(self, request: Request, shape: str, count: int) -> None:
        route = self._route_of(request)
        self._detections.labels(route).inc()
        shown = shape if len(shape) <= _SHOWN_LENGTH else shape[:_SHOWN_LENGTH] + "…"
        logger.warning(
            "N+1 queries: %s %s (route %s) ran one statement more than %d times (%d so far); "
            "load the rows in one query (a JOIN or IN): %s",
            request.method,
            request.path,
            route,
            self.threshold,
            count,
            shown,
        )

    def _route_of(self, request: Request) -> str:
        # The route's pattern, not its path: one label per route, however many ids are requested.
        route = self._router.get_matching_route(request.method, request.path)
        return route.pattern.decode() if route is not None else "unmatched"
