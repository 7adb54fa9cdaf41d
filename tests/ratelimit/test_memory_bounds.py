"""The memory rate limiter stays bounded: an outage or a flood of clients cannot grow it without limit."""

from __future__ import annotations

import asyncio

from sheepfold.ratelimit import MemoryRateLimiter, RateLimitPolicy, RateLimitWindow


async def test_it_holds_at_most_max_entries_keys():
    limiter = MemoryRateLimiter(max_entries=10)
    policy = RateLimitPolicy("p", (RateLimitWindow(5, 60),))
    for client in range(100):
        await limiter.hit(f"ip:{client}", policy)
    assert len(limiter.store) == 10
    # The most recent clients are the ones kept.
    assert (await limiter.hit("ip:99", policy)).remaining == 3


async def test_a_key_is_dropped_once_its_hits_have_left_the_window():
    limiter = MemoryRateLimiter()
    await limiter.start()
    try:
        await limiter.hit("k", RateLimitPolicy("p", (RateLimitWindow(5, 0.1),)))
        assert len(limiter.store) == 1
        async with asyncio.timeout(5):
            while len(limiter.store):
                await asyncio.sleep(0.05)
    finally:
        await limiter.close()
