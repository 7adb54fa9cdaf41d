"""The rate limiter port's contract, for every adapter of it (the kernel's, a plugin's, a third party's)."""

from __future__ import annotations

import asyncio

from sheepfold.ratelimit import PenaltyPolicy, RateLimiter, RateLimitPolicy, RateLimitWindow


def policy(*windows: tuple[int, float], name: str = "p", penalty: PenaltyPolicy | None = None) -> RateLimitPolicy:
    return RateLimitPolicy(name, tuple(RateLimitWindow(limit, seconds) for limit, seconds in windows), penalty)


async def hits(ratelimit: RateLimiter, key: str, rule: RateLimitPolicy, count: int) -> list[bool]:
    return [(await ratelimit.hit(key, rule)).allowed for _ in range(count)]


class RateLimiterContract:
    """The ``RateLimiter`` port's contract: subclass it, with a ``ratelimit`` fixture yielding a fresh adapter.

    The fixture yields the adapter started and empty, and closes it afterwards.
    """

    async def test_a_first_hit_is_admitted_and_reports_the_window(self, ratelimit: RateLimiter) -> None:
        result = await ratelimit.hit("k", policy((5, 10.0)))
        assert result.allowed
        assert (result.limit, result.remaining, result.retry_after) == (5, 4, 0.0)
        assert 9.0 < result.reset <= 10.0
        assert not result.blocked

    async def test_exactly_the_limit_is_admitted_then_hits_are_refused(self, ratelimit: RateLimiter) -> None:
        rule = policy((3, 10.0))
        assert await hits(ratelimit, "k", rule, 5) == [True, True, True, False, False]
        refused = await ratelimit.hit("k", rule)
        assert (refused.allowed, refused.remaining) == (False, 0)
        assert 9.0 < refused.retry_after <= 10.0

    async def test_concurrent_hits_are_admitted_exactly_the_limit(self, ratelimit: RateLimiter) -> None:
        rule = policy((20, 10.0))
        results = await asyncio.gather(*(ratelimit.hit("k", rule) for _ in range(60)))
        assert sum(result.allowed for result in results) == 20

    async def test_the_window_slides_instead_of_resetting_at_an_edge(self, ratelimit: RateLimiter) -> None:
        rule = policy((4, 0.6))
        assert await hits(ratelimit, "k", rule, 2) == [True, True]
        await asyncio.sleep(0.3)
        assert await hits(ratelimit, "k", rule, 3) == [True, True, False]
        # The first two hits have left the window, the last two have not: two places, not four.
        await asyncio.sleep(0.4)
        assert await hits(ratelimit, "k", rule, 3) == [True, True, False]

    async def test_retry_after_says_when_the_oldest_hit_leaves_the_window(self, ratelimit: RateLimiter) -> None:
        rule = policy((1, 0.5))
        assert (await ratelimit.hit("k", rule)).allowed
        refused = await ratelimit.hit("k", rule)
        assert 0.2 < refused.retry_after <= 0.5
        await asyncio.sleep(refused.retry_after + 0.1)
        assert (await ratelimit.hit("k", rule)).allowed

    async def test_refused_hits_do_not_count(self, ratelimit: RateLimiter) -> None:
        rule = policy((2, 0.4))
        await hits(ratelimit, "k", rule, 10)
        await asyncio.sleep(0.5)
        assert await hits(ratelimit, "k", rule, 3) == [True, True, False]

    async def test_a_cost_counts_that_many_units_and_a_refused_cost_counts_none(self, ratelimit: RateLimiter) -> None:
        rule = policy((5, 10.0))
        assert (await ratelimit.hit("k", rule, cost=3)).remaining == 2
        refused = await ratelimit.hit("k", rule, cost=3)
        assert not refused.allowed and refused.remaining == 2
        assert (await ratelimit.hit("k", rule, cost=2)).remaining == 0

    async def test_every_window_must_admit_and_the_tightest_is_reported(self, ratelimit: RateLimiter) -> None:
        rule = policy((2, 0.3), (3, 10.0))
        first = await ratelimit.hit("k", rule)
        assert (first.limit, first.remaining) == (2, 1)
        assert [state.remaining for state in first.windows] == [1, 2]
        assert await hits(ratelimit, "k", rule, 2) == [True, False]
        await asyncio.sleep(0.4)
        # The short window is free again; the long one has one place left.
        last = await ratelimit.hit("k", rule)
        assert last.allowed and (last.limit, last.remaining) == (3, 0)
        refused = await ratelimit.hit("k", rule)
        assert not refused.allowed and refused.retry_after > 9.0

    async def test_keys_and_policies_count_separately(self, ratelimit: RateLimiter) -> None:
        one, two = policy((1, 10.0), name="one"), policy((1, 10.0), name="two")
        assert (await ratelimit.hit("a", one)).allowed
        assert (await ratelimit.hit("b", one)).allowed
        assert (await ratelimit.hit("a", two)).allowed
        assert not (await ratelimit.hit("a", one)).allowed

    async def test_changing_a_policys_numbers_starts_it_afresh(self, ratelimit: RateLimiter) -> None:
        assert (await ratelimit.hit("k", policy((1, 10.0)))).allowed
        assert (await ratelimit.hit("k", policy((2, 10.0)))).allowed

    async def test_penalties_grow_with_each_breach_up_to_the_cap(self, ratelimit: RateLimiter) -> None:
        rule = policy((1, 0.1), penalty=PenaltyPolicy(base=0.3, factor=2, max=0.5, forget_after=30))
        blocks = []
        for _ in range(3):
            assert (await ratelimit.hit("k", rule)).allowed
            refused = await ratelimit.hit("k", rule)
            assert not refused.allowed and refused.blocked
            blocks.append(refused.retry_after)
            await asyncio.sleep(refused.retry_after + 0.05)
        assert 0.25 < blocks[0] <= 0.3
        assert 0.45 < blocks[1] <= 0.5  # 0.3 x 2 = 0.6, capped at 0.5
        assert 0.45 < blocks[2] <= 0.5

    async def test_a_blocked_key_is_refused_after_its_window_frees_and_hits_do_not_extend_the_block(
        self, ratelimit: RateLimiter
    ) -> None:
        rule = policy((1, 0.1), penalty=PenaltyPolicy(base=0.5, factor=2, max=10, forget_after=30))
        await hits(ratelimit, "k", rule, 2)
        await asyncio.sleep(0.2)
        during = await ratelimit.hit("k", rule)
        assert not during.allowed and during.blocked
        assert 0.2 < during.retry_after <= 0.3
        await asyncio.sleep(during.retry_after + 0.05)
        assert (await ratelimit.hit("k", rule)).allowed

    async def test_penalties_are_forgotten_after_a_quiet_period(self, ratelimit: RateLimiter) -> None:
        rule = policy((1, 0.1), penalty=PenaltyPolicy(base=0.2, factor=3, max=10, forget_after=0.3))
        await hits(ratelimit, "k", rule, 2)  # first breach: 0.2 s
        await asyncio.sleep(0.6)  # block over, then a quiet 0.3 s
        await hits(ratelimit, "k", rule, 1)
        refused = await ratelimit.hit("k", rule)
        assert 0.15 < refused.retry_after <= 0.2  # the base again, not 0.6

    async def test_reset_forgets_hits_and_penalties(self, ratelimit: RateLimiter) -> None:
        rule = policy((1, 10.0), penalty=PenaltyPolicy(base=10, forget_after=30))
        await hits(ratelimit, "k", rule, 2)
        await ratelimit.reset("k", rule)
        assert (await ratelimit.hit("k", rule)).allowed

    async def test_ping_succeeds_when_the_backend_serves(self, ratelimit: RateLimiter) -> None:
        await ratelimit.ping()
