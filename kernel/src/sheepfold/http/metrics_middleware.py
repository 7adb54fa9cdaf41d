"""Counting requests and timing them, as a BlackSheep middleware."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from blacksheep import Application, Request, Response

from sheepfold.metrics import PlatformMetrics

Handler = Callable[[Request], Awaitable[Response]]


def request_metrics(metrics: PlatformMetrics, app: Application) -> Callable[[Request, Handler], Awaitable[Response]]:
    """A middleware that counts every response by method and status and observes its latency.

    The status counted is the one the client receives: an exception raised
    further in is answered here by ``app``'s exception handlers (as BlackSheep
    would answer it a step later), so a database error its handler maps to 503
    counts as 503, not 500.
    """
    count = metrics.requests.inc
    observe = metrics.latency.observe
    clock = time.perf_counter

    async def middleware(request: Request, handler: Handler) -> Response:
        started = clock()
        status: int | None = None  # a WebSocket (no response) or a cancelled request: nothing to count
        try:
            response = await handler(request)
            if response is not None:
                status = response.status
            return response
        except Exception as error:
            response = await app.handle_request_handler_exception(request, error)
            status = response.status
            return response
        finally:
            if status is not None:
                count(request.method, status)
                observe(clock() - started, request.method)

    return middleware
