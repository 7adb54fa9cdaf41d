"""The rate limiter's Prometheus counters, in the app's own registry."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

from sheepfold.metrics import PlatformMetrics
from sheepfold.ratelimit import RateLimitPolicy


class RateLimitMetrics:
    """``sheepfold_ratelimit_decisions{policy,decision}`` and ``sheepfold_ratelimit_outage_decisions{policy,mode}``."""

    def __init__(self, metrics: PlatformMetrics) -> None:
        self.decisions = Counter(
            "sheepfold_ratelimit_decisions",
            "Rate-limited requests by policy and decision (allowed, limited, open, closed).",
            ["policy", "decision"],
            registry=metrics.registry,
        )
        self.outage_decisions = Counter(
            "sheepfold_ratelimit_outage_decisions",
            "Hits decided while the rate-limit backend was down, by policy and on_outage mode.",
            ["policy", "mode"],
            registry=metrics.registry,
        )
        # Label children are cached: looking them up per request is most of a metric's cost.
        self._children: dict[tuple[str, str, str], Any] = {}

    def decision(self, policy: RateLimitPolicy, decision: str) -> None:
        self._child(self.decisions, "d", policy.name, decision).inc()

    def outage_decision(self, policy: RateLimitPolicy) -> None:
        self._child(self.outage_decisions, "o", policy.name, policy.on_outage).inc()

    def _child(self, counter: Counter, kind: str, policy: str, label: str) -> Any:
        key = (kind, policy, label)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(policy, label)
        return child
