"""Counting requests and timing them, as a BlackSheep middleware."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from blacksheep import Request, Response
from blacksheep.exceptions import HTTPException

from sheepfold.metrics import PlatformMetrics

Handler = Callable[[Request], Awaitable[Response]]


def request_metrics(metrics: PlatformMetrics) -> Callable[[Request, Handler], Awaitable[Response]]:
    """A middleware that counts every response by method and status and observes its latency."""
    count = metrics.requests.inc
    observe = metrics.latency.observe
    clock = time.perf_counter

    async def middleware(request: Request, handler: Handler) -> Response:
        started = clock()
        try:
            response = await handler(request)
        except HTTPException as error:
            count(request.method, error.status)
            observe(clock() - started, request.method)
            raise
        except Exception:
            count(request.method, 500)
            observe(clock() - started, request.method)
            raise
        if response is not None:  # a WebSocket handler answers with no response
            count(request.method, response.status)
            observe(clock() - started, request.method)
        return response

    return middleware
