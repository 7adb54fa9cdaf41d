"""Cache-aside: one computation per missing key, however many callers ask at once; hits and misses counted."""

from __future__ import annotations

import asyncio

import pytest

from sheepfold.cache.aside import MAX_CACHE_NAMES, UNNAMED_CACHE, CacheAside
from sheepfold.cache.memory import MemoryCache
from sheepfold.metrics import PlatformMetrics


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


async def test_hits_and_misses_are_counted_per_key_namespace():
    metrics = PlatformMetrics()
    aside = CacheAside(MemoryCache(), metrics=metrics)

    async def compute():
        return "value"

    for key in ("example:a", "example:a", "example:a", "notes:1", "unnamespaced", "unnamespaced"):
        await aside.get_or_compute(key, compute)
    assert (metrics.cache_hits.value("example"), metrics.cache_misses.value("example")) == (2, 1)
    assert (metrics.cache_hits.value("notes"), metrics.cache_misses.value("notes")) == (0, 1)
    assert (metrics.cache_hits.value(UNNAMED_CACHE), metrics.cache_misses.value(UNNAMED_CACHE)) == (1, 1)
    text = metrics.render().decode()
    assert 'sheepfold_cache_hits_total{cache="example"} 2.0' in text
    assert 'sheepfold_cache_misses_total{cache="example"} 1.0' in text


async def test_namespaces_beyond_the_bound_are_counted_as_other():
    metrics = PlatformMetrics()
    aside = CacheAside(MemoryCache(), metrics=metrics)

    async def compute():
        return 1

    for number in range(MAX_CACHE_NAMES + 10):
        await aside.get_or_compute(f"user{number}:profile", compute)
    assert metrics.cache_misses.value("other") == 10
    assert metrics.cache_misses.value(f"user{MAX_CACHE_NAMES - 1}") == 1
    await aside.get_or_compute("user0:profile", compute)  # a name already counted keeps its own label
    assert metrics.cache_hits.value("user0") == 1
