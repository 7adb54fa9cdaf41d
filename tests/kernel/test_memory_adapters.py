"""Memory adapters are bounded and drop expired entries without waiting for a read."""

from __future__ import annotations

import asyncio

from sheepfold.cache.memory import MemoryCache
from sheepfold.memory.expiring import ExpiringLRU
from sheepfold.state.memory import MemoryState


async def test_state_evicts_the_least_recently_used_key_at_its_bound():
    state = MemoryState(max_entries=3)
    for key in ("a", "b", "c"):
        await state.set(key, b"1")
    await state.get("a")  # a is now recent; b is the oldest
    await state.set("d", b"1")
    assert len(state.store) == 3
    assert await state.get("b") is None and await state.get("a") == b"1"


async def test_cache_eviction_keeps_the_tag_index_consistent():
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", tags=["t"])
    await cache.set("b", b"1", tags=["t"])
    await cache.set("c", b"1", tags=["t"])  # evicts a
    assert await cache.invalidate_tag("t") == 2
    assert cache._tag_keys == {} and cache._key_tags == {}


async def test_the_sweeper_drops_expired_entries_nobody_reads():
    state = MemoryState(max_entries=10)
    state.sweep_interval = 0.05
    await state.start()
    await state.set("k", b"v", ttl=0.05)
    await asyncio.sleep(0.2)
    assert len(state.store) == 0
    await state.close()


def test_expired_entries_go_on_any_write_and_the_deadline_heap_stays_bounded():
    now = [0.0]
    store: ExpiringLRU[bytes] = ExpiringLRU(4, clock=lambda: now[0])
    for i in range(100):
        store.set("same", b"v", ttl=10)  # rewriting one key leaves stale heap items behind
        store.set(f"short{i % 2}", b"v", ttl=1)
    now[0] = 5.0
    store.set("other", b"v")
    assert sorted(store) == ["other", "same"]
    assert len(store._deadlines) <= 2 * store.max_entries + 1
