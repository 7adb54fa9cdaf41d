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
    requests = metrics.requests
    latency = metrics.latency
    # Label children are cached: looking them up per request is most of a metric's cost.
    counters: dict[tuple[str, int], object] = {}
    timers: dict[str, object] = {}

    def observe(method: str, status: int, started: float) -> None:
        key = (method, status)
        counter = counters.get(key)
        if counter is None:
            counter = counters[key] = requests.labels(method, str(status))
        timer = timers.get(method)
        if timer is None:
            timer = timers[method] = latency.labels(method)
        counter.inc()  # type: ignore[attr-defined]
        timer.observe(time.perf_counter() - started)  # type: ignore[attr-defined]

    async def middleware(request: Request, handler: Handler) -> Response:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except HTTPException as error:
            observe(request.method, error.status, started)
            raise
        except Exception:
            observe(request.method, 500, started)
            raise
        if response is not None:  # a WebSocket handler answers with no response
            observe(request.method, response.status, started)
        return response

    return middleware
