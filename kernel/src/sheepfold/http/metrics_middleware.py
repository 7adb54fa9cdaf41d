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
        status: int | None = None  # a WebSocket (no response) or a cancelled request: nothing to count
        try:
            response = await handler(request)
            if response is not None:
                status = response.status
            return response
        except Exception as error:
            status = error.status if isinstance(error, HTTPException) else 500
            raise
        finally:
            if status is not None:
                count(request.method, status)
                observe(clock() - started, request.method)

    return middleware
