"""What each policy does while the shared backend is down: count locally, let through, or refuse."""

from __future__ import annotations

from typing import Protocol

from sheepfold import SheepfoldError
from sheepfold.ratelimit import RateLimiter, RateLimitPolicy, RateLimitResult
from sheepfold_ratelimit.metrics import RateLimitMetrics


class OutageDecision(SheepfoldError):
    """Raised instead of a result while the backend is down and the policy is ``open`` or ``closed``.

    ``admit`` is True for ``open`` (let the request through, unlimited) and
    False for ``closed`` (answer 503).
    """

    def __init__(self, policy: RateLimitPolicy) -> None:
        self.policy = policy
        self.admit = policy.on_outage == "open"
        super().__init__(f"rate limiting backend is down; policy {policy.name!r} is {policy.on_outage}")


class LocalRateLimiter(RateLimiter, Protocol):
    """What :class:`OutageRateLimiter` counts in: a rate-limiter adapter, which also starts and closes."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class OutageRateLimiter:
    """The fallback of the ``ratelimit`` capability, applying each policy's ``on_outage``.

    The kernel's fallback switch calls it while the backend (Redis) is down.
    ``memory`` counts in ``local`` with every limit divided by the policy's
    ``expected_instances``, so the fleet as a whole stays near its limit;
    ``open`` and ``closed`` raise :class:`OutageDecision` without counting.
    Every decision is counted in ``sheepfold_ratelimit_outage_decisions``.
    """

    def __init__(self, local: LocalRateLimiter, metrics: RateLimitMetrics) -> None:
        self.local = local
        self._metrics = metrics

    async def hit(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> RateLimitResult:
        self._metrics.outage_decision(policy)
        if policy.on_outage != "memory":
            raise OutageDecision(policy)
        return await self.local.hit(key, policy.per_instance(), cost)

    async def reset(self, key: str, policy: RateLimitPolicy) -> None:
        await self.local.reset(key, policy.per_instance())

    async def ping(self) -> None:
        await self.local.ping()

    async def start(self) -> None:
        await self.local.start()

    async def close(self) -> None:
        await self.local.close()
