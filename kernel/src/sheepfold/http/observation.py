"""The kernel's outermost middleware: each request's id, and its count and latency in the metrics."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from blacksheep import Application, Request, Response, WebSocket

from sheepfold.http.request_id import REQUEST_ID_HEADER, RequestIds
from sheepfold.metrics import PlatformMetrics

Handler = Callable[[Request], Awaitable[Response]]


def observe_requests(
    metrics: PlatformMetrics, request_ids: RequestIds, app: Application
) -> Callable[[Request, Handler], Awaitable[Response]]:
    """A middleware that gives every request its id and counts every response by method and status.

    The id (:class:`RequestIds`) is set before anything else runs, so every
    log record and problem+json body of the request carries it, and is echoed
    in the response's ``X-Request-ID``. One middleware rather than two: each
    costs every request a coroutine frame.

    The status counted is the one the client receives: an exception raised
    further in is answered here by ``app``'s exception handlers (as BlackSheep
    would answer it a step later), so a database error its handler maps to 503
    counts as 503, not 500; a handler that returns nothing is answered (and
    counted) 204, as BlackSheep answers it.
    """
    count = metrics.requests.inc
    observe = metrics.latency.observe
    clock = time.perf_counter
    assign = request_ids.assign

    async def middleware(request: Request, handler: Handler) -> Response:
        started = clock()
        request_id = assign(request)
        response: Response | None
        try:
            response = await handler(request)
        except Exception as error:
            response = await app.handle_request_handler_exception(request, error)
        if response is None:
            if isinstance(request, WebSocket):
                return response  # None: a WebSocket has no response, nothing to count
            response = Response(204)
        count(request.method, response.status)
        observe(clock() - started, request.method)
        response.add_header(REQUEST_ID_HEADER, request_id.encode())
        return response

    return middleware
