"""The rate limiter's Prometheus counters, in the app's own registry, counted without a lock per request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from sheepfold.metrics import PlatformMetrics
from sheepfold.ratelimit import RateLimitPolicy


class RateLimitMetrics(Collector):
    """``sheepfold_ratelimit_decisions{policy,decision}`` and ``sheepfold_ratelimit_outage_decisions{policy,mode}``.

    Decisions are tallied in plain counters and turned into Prometheus
    counters when ``/metrics`` is scraped: a ``prometheus_client.Counter``
    takes a lock on every increment, which would be a measurable part of a
    rate-limited request. The event loop is single-threaded, so the tallies
    need none.
    """

    def __init__(self, metrics: PlatformMetrics) -> None:
        self._decisions: Counter[tuple[str, str]] = Counter()
        self._outage_decisions: Counter[tuple[str, str]] = Counter()
        metrics.registry.register(self)

    def decision(self, policy: RateLimitPolicy, decision: str) -> None:
        """Count one request of ``policy``: ``allowed``, ``limited``, ``open`` or ``closed``."""
        self._decisions[policy.name, decision] += 1

    def outage_decision(self, policy: RateLimitPolicy) -> None:
        """Count one hit decided by ``policy.on_outage`` while the backend was down."""
        self._outage_decisions[policy.name, policy.on_outage] += 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        decisions = CounterMetricFamily(
            "sheepfold_ratelimit_decisions",
            "Rate-limited requests by policy and decision (allowed, limited, open, closed).",
            labels=["policy", "decision"],
        )
        for (policy, decision), count in sorted(self._decisions.items()):
            decisions.add_metric([policy, decision], count)
        outage = CounterMetricFamily(
            "sheepfold_ratelimit_outage_decisions",
            "Hits decided while the rate-limit backend was down, by policy and on_outage mode.",
            labels=["policy", "mode"],
        )
        for (policy, mode), count in sorted(self._outage_decisions.items()):
            outage.add_metric([policy, mode], count)
        yield decisions
        yield outage
