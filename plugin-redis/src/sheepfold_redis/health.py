"""Redis' part of ``/health`` and its Prometheus gauges, measured by a PING."""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Gauge

from sheepfold.errors import BackendUnavailable
from sheepfold.health import ComponentHealth, Status
from sheepfold.periodic import PeriodicTask
from sheepfold.statistics import Statistics
from sheepfold.tasks import BackgroundTasks
from sheepfold_redis.connection import RedisConnection

logger = logging.getLogger("sheepfold.redis")

COMPONENT = "redis"


class RedisMonitor:
    """Measures the shared connection: reachable or not, PING round trip, server version, pool, multiplexed.

    :meth:`measure` is what ``/health`` reports; every measurement also sets
    the gauges ``sheepfold_redis_up``, ``sheepfold_redis_ping_seconds`` and
    ``sheepfold_redis_pool_connections{state}`` in the app's registry. With
    ``interval`` > 0, :meth:`start` measures every ``interval`` seconds so
    the gauges stay fresh between health checks. The last measurement is
    kept (:attr:`up`, :attr:`latency_ms`, :attr:`measured_at`) for
    :meth:`statistics`.
    """

    def __init__(self, connection: RedisConnection, registry: CollectorRegistry, *, interval: float) -> None:
        self.connection = connection
        self.interval = interval
        self._rounds = PeriodicTask(self.measure, interval, name="sheepfold-redis-monitor", logger=logger)
        # With --workers N: up only if every worker reaches Redis, the slowest worker's PING, all connections.
        self._up = Gauge(
            "sheepfold_redis_up",
            "1 when Redis answered the last PING (of every worker process), else 0.",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self._ping = Gauge(
            "sheepfold_redis_ping_seconds",
            "Round trip of the last PING that Redis answered (the slowest worker process's).",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self._pool = Gauge(
            "sheepfold_redis_pool_connections",
            "Connections the instance's processes hold on Redis, in use or free in their pools.",
            ["state"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.up: bool | None = None  # None: never measured
        self.latency_ms: float | None = None  # of the last PING that Redis answered
        self.measured_at = 0.0  # time.monotonic() of the last measurement

    async def measure(self) -> ComponentHealth:
        """PING Redis (bounded by the command timeout) and report; never raises for an outage."""
        connection = self.connection
        details: dict[str, object] = {"topology": connection.settings.topology, "namespace": connection.namespace}
        try:
            latency_ms = await connection.ping()
            version = await connection.server_version()
        except BackendUnavailable as error:
            self.up, self.measured_at = False, time.monotonic()
            self._up.set(0)
            status = Status.DOWN
            details.update(reachable=False, error=str(error))
        else:
            self.up, self.latency_ms, self.measured_at = True, latency_ms, time.monotonic()
            self._up.set(1)
            self._ping.set(latency_ms / 1000)
            status = Status.OK
            details.update(reachable=True, latency_ms=round(latency_ms, 3), version=version)
        usage = connection.pool_usage()
        self._pool.labels("in_use").set(usage.in_use)
        self._pool.labels("free").set(usage.free)
        details["pool"] = {"in_use": usage.in_use, "free": usage.free, "size": usage.size}
        if connection.multiplexed is not None:
            shared = connection.multiplexed
            details["multiplexed"] = {"connected": shared.connected, "waiting": shared.waiting}
        return ComponentHealth(COMPONENT, status, details=details)

    async def statistics(self) -> Statistics:
        """The ``redis`` section of the operator console, from the last measurement and the pool now.

        Gauges: ``up`` (1/0), ``latency_ms`` (the last PING answered),
        ``measured_seconds_ago``, ``pool_in_use``, ``pool_free``,
        ``pool_size`` and, on the shared connection, ``multiplexed_waiting``
        (commands sent, not answered yet). With periodic measurements
        (``redis.metrics_interval`` > 0) nothing is sent to Redis; without
        them, or before the first, it measures now (a PING and INFO).
        """
        if self.up is None or self.interval <= 0:
            await self.measure()
        usage = self.connection.pool_usage()
        gauges: dict[str, float] = {
            "up": 1 if self.up else 0,
            **({} if self.latency_ms is None else {"latency_ms": round(self.latency_ms, 3)}),
            "measured_seconds_ago": round(time.monotonic() - self.measured_at, 3),
            "pool_in_use": usage.in_use,
            "pool_free": usage.free,
            "pool_size": usage.size,
        }
        if self.connection.multiplexed is not None:
            gauges["multiplexed_waiting"] = self.connection.multiplexed.waiting
        return Statistics("redis", gauges=gauges)

    def start(self, tasks: BackgroundTasks) -> None:
        if self.interval > 0:
            self._rounds.start(tasks)

    async def stop(self) -> None:
        await self._rounds.stop()
