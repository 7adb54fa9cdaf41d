"""The cache port's contract, for every adapter of it (the kernel's, a plugin's, a third party's)."""

from __future__ import annotations

import asyncio

from sheepfold.cache import Cache


class CacheContract:
    """The ``Cache`` port's contract: subclass it, with a ``cache`` fixture yielding a fresh adapter.

    The fixture yields the adapter started and empty, and closes it afterwards.
    """

    async def test_a_miss_is_none(self, cache: Cache) -> None:
        assert await cache.get("missing") is None

    async def test_set_then_get_returns_the_bytes(self, cache: Cache) -> None:
        await cache.set("k", b"payload")
        assert await cache.get("k") == b"payload"

    async def test_a_value_expires_after_its_ttl(self, cache: Cache) -> None:
        await cache.set("k", b"v", ttl=0.15)
        await asyncio.sleep(0.3)
        assert await cache.get("k") is None

    async def test_delete_says_whether_the_key_was_cached(self, cache: Cache) -> None:
        await cache.set("k", b"v")
        assert await cache.delete("k") is True
        assert await cache.delete("k") is False

    async def test_invalidate_tag_removes_exactly_its_members(self, cache: Cache) -> None:
        await cache.set("u1:profile", b"a", tags=["user:1"])
        await cache.set("u1:orders", b"b", tags=["user:1", "orders"])
        await cache.set("u2:profile", b"c", tags=["user:2"])
        assert await cache.invalidate_tag("user:1") == 2
        assert await cache.get("u1:profile") is None
        assert await cache.get("u1:orders") is None
        assert await cache.get("u2:profile") == b"c"

    async def test_invalidating_an_unknown_tag_removes_nothing(self, cache: Cache) -> None:
        await cache.set("k", b"v", tags=["t"])
        assert await cache.invalidate_tag("other") == 0
        assert await cache.get("k") == b"v"

    async def test_rewriting_a_key_replaces_its_tags(self, cache: Cache) -> None:
        await cache.set("k", b"v1", tags=["old"])
        await cache.set("k", b"v2", tags=["new"])
        assert await cache.invalidate_tag("old") == 0
        assert await cache.get("k") == b"v2"
        assert await cache.invalidate_tag("new") == 1

    async def test_a_tag_does_not_count_deleted_or_expired_members(self, cache: Cache) -> None:
        await cache.set("gone", b"v", tags=["t"])
        await cache.set("expired", b"v", ttl=0.1, tags=["t"])
        await cache.set("kept", b"v", tags=["t"])
        await cache.delete("gone")
        await asyncio.sleep(0.25)
        assert await cache.invalidate_tag("t") == 1
        assert await cache.get("kept") is None

    async def test_ping_succeeds_when_the_backend_serves(self, cache: Cache) -> None:
        await cache.ping()
