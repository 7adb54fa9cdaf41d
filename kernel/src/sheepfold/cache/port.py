"""The cache port."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Cache(Protocol):
    """A cache of bytes under string keys, with TTLs and tags.

    A value may carry tags; :meth:`invalidate_tag` removes every value that
    carries a tag at a cost proportional to the tag's members, never a scan of
    the whole cache. A cache may drop any value at any time (eviction), so a
    miss is always a valid answer. Adapters raise
    :class:`~sheepfold.errors.BackendUnavailable` when the backend is down.
    """

    async def get(self, key: str) -> bytes | None:
        """The cached value, or None on a miss."""
        ...

    async def set(self, key: str, value: bytes, ttl: float | None = None, tags: Iterable[str] = ()) -> None:
        """Cache ``value`` under ``key`` for ``ttl`` seconds (None: until evicted), tagged ``tags``."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True when it was cached."""
        ...

    async def invalidate_tag(self, tag: str) -> int:
        """Remove every value tagged ``tag``; returns how many were removed."""
        ...

    async def ping(self) -> None:
        """Raise unless the backend can serve calls."""
        ...
