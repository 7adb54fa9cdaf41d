"""Redis' part of ``/health`` and its Prometheus gauges, measured by a PING."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Gauge

from sheepfold.errors import BackendUnavailable
from sheepfold.health import ComponentHealth, Status
from sheepfold.periodic import PeriodicTask
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
    the gauges stay fresh between health checks.
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

    async def measure(self) -> ComponentHealth:
        """PING Redis (bounded by the command timeout) and report; never raises for an outage."""
        connection = self.connection
        details: dict[str, object] = {"topology": connection.settings.topology, "namespace": connection.namespace}
        try:
            latency_ms = await connection.ping()
            version = await connection.server_version()
        except BackendUnavailable as error:
            self._up.set(0)
            status = Status.DOWN
            details.update(reachable=False, error=str(error))
        else:
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

    def start(self, tasks: BackgroundTasks) -> None:
        if self.interval > 0:
            self._rounds.start(tasks)

    async def stop(self) -> None:
        await self._rounds.stop()
