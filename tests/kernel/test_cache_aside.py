"""Cache-aside: one computation per missing key, however many callers ask at once."""

from __future__ import annotations

import asyncio

import pytest

from sheepfold.cache.aside import CacheAside
from sheepfold.cache.memory import MemoryCache


async def test_concurrent_callers_share_one_computation():
    aside = CacheAside(MemoryCache())
    calls = 0

    async def compute():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return {"answer": 42}

    results = await asyncio.gather(*(aside.get_or_compute("k", compute, ttl=10) for _ in range(50)))
    assert calls == 1 and all(r == {"answer": 42} for r in results)
    assert await aside.get_or_compute("k", compute) == {"answer": 42} and calls == 1


async def test_a_failed_computation_reaches_every_waiter_and_stores_nothing():
    cache = MemoryCache()
    aside = CacheAside(cache)

    async def fail():
        await asyncio.sleep(0.02)
        raise LookupError("no such filing")

    outcomes = await asyncio.gather(*(aside.get_or_compute("k", fail) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, LookupError) for o in outcomes)
    assert await cache.get("k") is None
    with pytest.raises(LookupError):
        await aside.get_or_compute("k", fail)


async def test_values_are_stored_with_their_tags():
    cache = MemoryCache()
    aside = CacheAside(cache)

    async def compute():
        return [1, 2]

    await aside.get_or_compute("k", compute, tags=["user:1"])
    assert await cache.invalidate_tag("user:1") == 1
