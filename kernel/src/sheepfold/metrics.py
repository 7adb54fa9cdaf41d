"""Prometheus metrics of one platform instance, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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

        self.capability_phase = Gauge(
            "sheepfold_capability_phase",
            "1 for the phase a capability is in now (backend, fallback, recovering), 0 for the others.",
            ["capability", "phase"],
            registry=self.registry,
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
            "How late the event loop ran a timer at the last measurement (overload, not an outage).",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format."""
        return generate_latest(self.registry)
