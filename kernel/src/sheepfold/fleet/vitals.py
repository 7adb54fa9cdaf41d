"""An instance's vital signs over the last heartbeat interval, read from what it already tallies.

Nothing here runs per request: the request counter and latency histogram are
the kernel's own tallies (:class:`~sheepfold.tally.TallyCounter`,
:class:`~sheepfold.tally.TallyHistogram`), read once per heartbeat and
compared with the previous reading; the other figures are gauges that plugins
keep in the app's metrics registry, read by name.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sheepfold.platform import Platform

#: The vital signs a heartbeat carries, and what each one is.
VITALS: dict[str, str] = {
    "requests_per_second": "HTTP responses per second over the last interval",
    "error_rate": "share of those responses with a 5xx status (0 to 1); None without responses",
    "latency_p95_ms": "95th percentile of their latency, ms (interpolated in the histogram's bucket); None without",
    "redis_latency_ms": "round trip of plugin-redis's last PING, ms; None without plugin-redis or while Redis is down",
    "database_pool_use_percent": "share of the database pool in use at sheepfold-database's last sample",
    "websockets": "WebSockets open (sheepfold-realtime)",
    "event_loop_lag_ms": "how late the event loop ran a timer at the last measurement, ms",
}

#: Gauges that plugins keep in the app's registry, by the sample name read.
REDIS_UP = "sheepfold_redis_up"
REDIS_PING = "sheepfold_redis_ping_seconds"
POOL_USE = "sheepfold_database_pool_use_percent"
SOCKETS = "sheepfold_realtime_sockets"
GAUGES = (REDIS_UP, REDIS_PING, POOL_USE, SOCKETS)


class VitalSigns:
    """Turns the platform's tallies into rates between two :meth:`sample` calls."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._metrics = platform.metrics
        self._gauges = platform.metrics.registry.restricted_registry(GAUGES)
        self._at = time.monotonic()
        self._responses, self._errors = self._responses_so_far()
        self._buckets = self._metrics.latency.bucket_counts()

    def sample(self) -> dict[str, float | None]:
        """The vital signs since the previous sample (or since this object was made)."""
        now = time.monotonic()
        responses, errors = self._responses_so_far()
        buckets = self._metrics.latency.bucket_counts()
        elapsed = max(now - self._at, 1e-9)
        answered = responses - self._responses
        failed = errors - self._errors
        p95 = quantile(self._metrics.latency.bounds, [b - a for a, b in zip(self._buckets, buckets, strict=True)], 0.95)
        self._at, self._responses, self._errors, self._buckets = now, responses, errors, buckets
        gauges = self._read_gauges()
        redis_up = gauges.get(REDIS_UP)
        ping = gauges.get(REDIS_PING)
        return {
            "requests_per_second": round(answered / elapsed, 3),
            "error_rate": round(failed / answered, 4) if answered else None,
            "latency_p95_ms": None if p95 is None else round(p95 * 1000, 3),
            "redis_latency_ms": round(ping * 1000, 3) if redis_up == 1 and ping is not None else None,
            "database_pool_use_percent": gauges.get(POOL_USE),
            "websockets": gauges.get(SOCKETS),
            "event_loop_lag_ms": round(self._platform.loop_lag.current * 1000, 3),
        }

    def _responses_so_far(self) -> tuple[int, int]:
        total = errors = 0
        for (_method, status), count in list(self._metrics.requests.counts.items()):
            total += count
            if isinstance(status, int) and status >= 500:
                errors += count
        return total, errors

    def _read_gauges(self) -> dict[str, float]:
        return {sample.name: sample.value for family in self._gauges.collect() for sample in family.samples}


def quantile(bounds: list[float], counts: list[int], fraction: float) -> float | None:
    """The ``fraction`` quantile of a histogram's observations (``counts`` per bucket, upper ``bounds``).

    Interpolated linearly within the bucket it falls in, as Prometheus'
    ``histogram_quantile`` does; the last finite bound when it falls in the
    ``+Inf`` bucket. None when there are no observations.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            upper = bounds[index]
            lower = bounds[index - 1] if index > 0 else 0.0
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return bounds[-2] if len(bounds) > 1 else None
