"""The kernel's outermost middleware: each request's id and body limit, and its count and latency in the metrics."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable

from blacksheep import Application, Request, Response, WebSocket

from sheepfold.http.body_limit import BODILESS_METHODS, limit_body
from sheepfold.http.request_id import REQUEST_ID_HEADER, RequestIds, request_id_var
from sheepfold.metrics import PlatformMetrics

Handler = Callable[[Request], Awaitable[Response]]


class RequestObserver:
    """Gives every request its id and body limit, and counts every response by method and status, with its latency.

    The id (:class:`~sheepfold.http.request_id.RequestIds`) is set before
    anything else runs, so every log record and problem+json body of the
    request carries it, and is echoed in the response's ``X-Request-ID``.
    A body over ``max_body_size`` bytes is refused with 413 when it is read
    (:func:`~sheepfold.http.body_limit.limit_body`).

    The status counted is the one the client receives: an exception raised
    further in is answered here by ``app``'s exception handlers (as BlackSheep
    would answer it a step later), so a database error its handler maps to 503
    counts as 503, not 500; a handler that returns nothing is answered (and
    counted) 204, as BlackSheep answers it.

    A middleware (``await observer(request, handler)``) that the kernel's
    application puts first in every route's chain with :meth:`wrap` instead:
    one coroutine frame per request rather than BlackSheep's wrapper and the
    middleware's own.
    """

    def __init__(
        self, metrics: PlatformMetrics, request_ids: RequestIds, app: Application, *, max_body_size: int
    ) -> None:
        self.metrics = metrics
        self.request_ids = request_ids
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, request: Request, handler: Handler) -> Response:
        return await self.wrap(handler)(request)

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` (the rest of a route's chain), observed."""
        handle_exception = self.app.handle_request_handler_exception
        # The tallies' work done inline (TallyCounter.inc, TallyHistogram.observe), and RequestIds.assign's:
        # a call each would cost a request more than what they do.
        counts = self.metrics.requests.counts
        latency = self.metrics.latency
        bounds = latency.bounds
        latency_by_method: dict[str, list[float]] = {}
        clock = time.perf_counter
        offered = self.request_ids.offered if self.request_ids.trusted else None
        generator = self.request_ids.generator
        set_request_id = request_id_var.set
        max_body_size = self.max_body_size

        async def observed(request: Request) -> Response:
            started = clock()
            method = request.method
            if method not in BODILESS_METHODS:
                limit_body(request, max_body_size)
            request_id = (offered(request) if offered is not None else None) or (
                generator.prefix + b"%x" % next(generator.counter)
            )
            set_request_id(request_id)
            response: Response | None
            try:
                response = await handler(request)
            except Exception as error:
                response = await handle_exception(request, error)
            if response is None:
                if isinstance(request, WebSocket):
                    return response  # None: a WebSocket has no response, nothing to count
                response = Response(204)
            elapsed = clock() - started
            counts[(method, response.status)] += 1
            series = latency_by_method.get(method)
            if series is None:
                series = latency_by_method[method] = latency.series_of(method)
            series[bisect_left(bounds, elapsed)] += 1
            series[-1] += elapsed
            response.add_header(REQUEST_ID_HEADER, request_id)
            return response

        return observed
