"""Fleet-wide job statistics in ``/metrics``: gauges refreshed from the port's statistics every few seconds.

Prometheus collects synchronously while statistics need Redis, so a task
reads them every ``jobs.metrics_interval`` seconds (a few counting
commands per queue, never a scan) and sets the gauges; ``/metrics`` serves
the last reading.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Gauge

from sheepfold.jobs import Jobs
from sheepfold.periodic import PeriodicTask
from sheepfold.tasks import BackgroundTasks

logger = logging.getLogger("sheepfold.jobs.metrics")
STATES = ("waiting", "delayed", "active", "completed", "failed")


class JobMetrics:
    """Gauges ``sheepfold_jobs{queue,priority,state}`` and ``sheepfold_jobs_queue_time_seconds{...,quantile}``.

    ``fleet_wide``: the statistics are the whole fleet's (arq, read from
    Redis), so every worker process of an instance reports the same figures
    and ``/metrics`` shows them once (the highest); otherwise (the memory
    runner) each process has its own jobs and the counts add up.
    """

    def __init__(self, jobs: Jobs, registry: CollectorRegistry, *, interval: float, fleet_wide: bool = True) -> None:
        self.jobs = jobs
        self.interval = interval
        self.counts = Gauge(
            "sheepfold_jobs",
            "Jobs of the whole fleet by queue, priority and state (completed and failed: since counting began).",
            ["queue", "priority", "state"],
            registry=registry,
            multiprocess_mode="livemax" if fleet_wide else "livesum",
        )
        self.queue_time = Gauge(
            "sheepfold_jobs_queue_time_seconds",
            "Seconds from due to start over the most recent jobs, by queue and priority.",
            ["queue", "priority", "quantile"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        # Statistics are unavailable while Redis is down, which /health reports: not worth more than a debug line.
        self._rounds = PeriodicTask(
            self.refresh,
            interval,
            name="sheepfold-jobs-metrics",
            logger=logger,
            immediately=True,
            failure_level=logging.DEBUG,
        )

    async def refresh(self) -> None:
        """Read the statistics once and set every gauge."""
        stats = await self.jobs.statistics()
        for queue, by_priority in stats.queues.items():
            for priority, entry in by_priority.items():
                for state in STATES:
                    self.counts.labels(queue, priority, state).set(getattr(entry, state))
                for quantile, value in (("0.5", entry.queue_time_p50), ("0.95", entry.queue_time_p95)):
                    if value is not None:
                        self.queue_time.labels(queue, priority, quantile).set(value)

    def start(self, tasks: BackgroundTasks) -> None:
        """Refresh every ``interval`` seconds (never with 0) in a task owned by ``tasks``."""
        if self.interval > 0:
            self._rounds.start(tasks)

    async def stop(self) -> None:
        await self._rounds.stop()
