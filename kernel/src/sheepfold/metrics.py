"""Prometheus metrics of one platform instance, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from sheepfold.tally import TallyCounter, TallyHistogram


class PlatformMetrics:
    """The kernel's metrics, registered in a per-app ``registry``.

    Plugins register their own metrics with ``registry=metrics.registry`` so
    that apps built side by side (tests) never share a counter.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
            "1 for the backend that serves a capability now, 0 for the other.",
            ["capability", "backend"],
            registry=self.registry,
        )
        self.backend_failures = Counter(
            "sheepfold_backend_failures",
            "Calls to a capability's backend that failed and were served by the fallback.",
            ["capability"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format."""
        return generate_latest(self.registry)
