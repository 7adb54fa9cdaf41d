"""Prometheus metrics of one platform instance, in a registry of its own."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import Collector

from sheepfold import multiprocess
from sheepfold.periodic import PeriodicTask
from sheepfold.tally import TallyCounter, TallyHistogram
from sheepfold.tasks import BackgroundTasks

logger = logging.getLogger("sheepfold.metrics")


class PlatformRegistry(CollectorRegistry):
    """A ``CollectorRegistry`` that also keeps the lock-free tallies registered in it, to share them."""

    def __init__(self) -> None:
        super().__init__(auto_describe=True)
        self.tallies: list[TallyCounter | TallyHistogram] = []

    def register(self, collector: Collector) -> None:
        super().register(collector)
        if isinstance(collector, TallyCounter | TallyHistogram):
            self.tallies.append(collector)


class PlatformMetrics:
    """The kernel's metrics, registered in a per-app ``registry``.

    Plugins register their own metrics with ``registry=metrics.registry`` so
    that apps built side by side (tests) never share a counter. A gauge says
    how worker processes' values add up (``multiprocess_mode``: ``livesum``,
    ``livemax``, ``livemin``), for when they share their metrics.

    ``shared_directory`` (``sheepfold.multiprocess.shared_directory()``):
    where the worker processes of this instance share their metrics; then
    :meth:`render` reports them all, added up. None: this process's only.
    """

    def __init__(self, shared_directory: str | None = None) -> None:
        self.shared_directory = shared_directory
        self.registry = PlatformRegistry()
        self._sharing: PeriodicTask | None = None
        # Counted on every request, so tallied without a lock (see sheepfold.tally).
        self.requests = TallyCounter(
            "sheepfold_http_requests",
            "HTTP requests answered, by method and status code.",
            ["method", "status"],
            self.registry,
        )
        self.latency = TallyHistogram(
            "sheepfold_http_request_duration_seconds",
            "Time from request to response, by method.",
            ["method"],
            self.registry,
        )
        self.fallback_switches = Counter(
            "sheepfold_fallback_switches",
            "Times a capability moved between its backend and its fallback.",
            ["capability", "to"],
            registry=self.registry,
        )
        self.active_backend = Gauge(
            "sheepfold_capability_active_backend",
            "Processes whose capability is served by this backend now (1 or 0 in one process).",
            ["capability", "backend"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.backend_failures = Counter(
            "sheepfold_backend_failures",
            "Calls to a capability's backend that failed and were served by the fallback.",
            ["capability"],
            registry=self.registry,
        )

        self.capability_phase = Gauge(
            "sheepfold_capability_phase",
            "Processes whose capability is in this phase now (backend, fallback, recovering; 1 or 0 in one process).",
            ["capability", "phase"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.recovery_duration = Histogram(
            "sheepfold_recovery_duration_seconds",
            "How long a capability's recovery steps ran, by outcome (ok, failed).",
            ["capability", "outcome"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
            registry=self.registry,
        )
        self.loop_lag = Gauge(
            "sheepfold_event_loop_lag_seconds",
            "How late the event loop ran a timer at the last measurement (overload, not an outage); "
            "the worst of the worker processes.",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.cache_hits = TallyCounter(
            "sheepfold_cache_hits",
            "Cache look-ups answered from the cache, by cache (a CacheAside key's namespace; response:<namespace>).",
            ["cache"],
            self.registry,
        )
        self.cache_misses = TallyCounter(
            "sheepfold_cache_misses",
            "Cache look-ups the cache could not answer, by cache (as sheepfold_cache_hits).",
            ["cache"],
            self.registry,
        )

    def render(self) -> bytes:
        """The metrics in Prometheus' text exposition format: of every worker process, when they share them."""
        path = self.shared_directory
        if path is None:
            return generate_latest(self.registry)
        multiprocess.share(self.registry.tallies)
        multiprocess.forget_dead_processes(path)
        return multiprocess.render(path)

    def start(self, tasks: BackgroundTasks, flush_interval: float) -> None:
        """When sharing, copy the tallies to this process's files every ``flush_interval`` seconds."""
        if self.shared_directory is not None:
            self._sharing = PeriodicTask(
                lambda: multiprocess.share(self.registry.tallies),
                flush_interval,
                name="sheepfold-metrics-sharing",
                logger=logger,
            )
            self._sharing.start(tasks)

    async def stop(self) -> None:
        """When sharing, copy the tallies a last time and withdraw this process's live gauges."""
        if self._sharing is not None:
            await self._sharing.stop()
        if self.shared_directory is not None:
            multiprocess.share(self.registry.tallies)
            multiprocess.forget_this_process(self.shared_directory)
