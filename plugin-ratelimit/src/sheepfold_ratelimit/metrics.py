"""The rate limiter's Prometheus counters, in the app's own registry, tallied without a lock per request."""

from __future__ import annotations

from sheepfold.metrics import PlatformMetrics
from sheepfold.ratelimit import RateLimitPolicy
from sheepfold.tally import TallyCounter


class RateLimitMetrics:
    """``sheepfold_ratelimit_decisions{policy,decision}`` and ``sheepfold_ratelimit_outage_decisions{policy,mode}``."""

    def __init__(self, metrics: PlatformMetrics) -> None:
        self._decisions = TallyCounter(
            "sheepfold_ratelimit_decisions",
            "Rate-limited requests by policy and decision (allowed, limited, open, closed).",
            ["policy", "decision"],
            metrics.registry,
        )
        self._outage_decisions = TallyCounter(
            "sheepfold_ratelimit_outage_decisions",
            "Hits decided while the rate-limit backend was down, by policy and on_outage mode.",
            ["policy", "mode"],
            metrics.registry,
        )

    def decision(self, policy: RateLimitPolicy, decision: str) -> None:
        """Count one request of ``policy``: ``allowed``, ``limited``, ``open`` or ``closed``."""
        self._decisions.inc(policy.name, decision)

    def outage_decision(self, policy: RateLimitPolicy) -> None:
        """Count one hit decided by ``policy.on_outage`` while the backend was down."""
        self._outage_decisions.inc(policy.name, policy.on_outage)
