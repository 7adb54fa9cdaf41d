"""The rate limiter's Prometheus counters, in the app's own registry, tallied without a lock per request."""

from __future__ import annotations

from collections.abc import Iterable

from sheepfold.metrics import PlatformMetrics
from sheepfold.ratelimit import RateLimitPolicy, RateLimitResult
from sheepfold.statistics import Statistics
from sheepfold.tally import TallyCounter
from sheepfold_ratelimit.figures import ActivePenalties, MostLimited

DECISIONS = ("allowed", "limited", "open", "closed")
#: Rows of the console's table of the keys most often limited.
MOST_LIMITED_ROWS = 20


class RateLimitMetrics:
    """``sheepfold_ratelimit_decisions{policy,decision}`` and ``sheepfold_ratelimit_outage_decisions{policy,mode}``.

    Refusals also feed what the operator console shows and Prometheus does
    not (its labels must stay few): :attr:`most_limited` and :attr:`penalties`.
    """

    def __init__(self, metrics: PlatformMetrics) -> None:
        self.decisions = TallyCounter(
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
        self.most_limited = MostLimited()
        self.penalties = ActivePenalties()

    def decision(self, policy: RateLimitPolicy, decision: str) -> None:
        """Count one request of ``policy``: ``allowed``, ``open`` or ``closed`` (``limited``: :meth:`limited`)."""
        self.decisions.inc(policy.name, decision)

    def limited(self, policy: RateLimitPolicy, key: str, result: RateLimitResult) -> None:
        """Count one refused request of ``key``: the decision, the most limited keys, a penalty's block."""
        self.decisions.inc(policy.name, "limited")
        self.most_limited.add(policy.name, key)
        if result.blocked:
            self.penalties.blocked(policy.name, key, result.retry_after)

    def outage_decision(self, policy: RateLimitPolicy) -> None:
        """Count one hit decided by ``policy.on_outage`` while the backend was down."""
        self._outage_decisions.inc(policy.name, policy.on_outage)

    def statistics(self, policies: Iterable[RateLimitPolicy]) -> Statistics:
        """The ``ratelimit`` section of the console: every policy's decisions, active penalties, most limited keys.

        Counters ``decisions.<policy>.<decision>`` (this instance's, since it
        started) and ``penalties_forgotten``; gauges ``active_penalties`` and
        ``active_penalties.<policy>`` (policies with a penalty); the table
        ``most_limited``. Reads what requests tallied already: no Redis.
        """
        counts = dict(self.decisions.counts)
        active = self.penalties.active()
        counters: dict[str, float] = {"penalties_forgotten": self.penalties.forgotten}
        gauges: dict[str, float] = {"active_penalties": sum(active.values())}
        for policy in policies:
            for decision in DECISIONS:
                counters[f"decisions.{policy.name}.{decision}"] = counts.get((policy.name, decision), 0)
            if policy.penalty is not None:
                gauges[f"active_penalties.{policy.name}"] = active.get(policy.name, 0)
        return Statistics(
            "ratelimit",
            counters=counters,
            gauges=gauges,
            tables={"most_limited": self.most_limited.top(MOST_LIMITED_ROWS)},
        )
