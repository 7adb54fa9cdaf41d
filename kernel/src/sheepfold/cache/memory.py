"""The in-memory cache adapter: one process, bounded, with a tag index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sheepfold.memory.adapter import MemoryAdapter

if TYPE_CHECKING:
    from sheepfold.tasks import BackgroundTasks


class MemoryCache(MemoryAdapter):
    """:class:`~sheepfold.cache.Cache` in process memory, at most ``max_entries`` values (LRU).

    Tags are an index from tag to keys, kept consistent when values are
    evicted or expire, so invalidating a tag touches only its members.
    """

    def __init__(self, max_entries: int = 10_000, *, tasks: BackgroundTasks | None = None) -> None:
        self._key_tags: dict[str, frozenset[str]] = {}
        self._tag_keys: dict[str, set[str]] = {}
        super().__init__(max_entries, tasks=tasks)

    async def get(self, key: str) -> bytes | None:
        return self.store.get(key)

    async def set(self, key: str, value: bytes, ttl: float | None = None, tags: Iterable[str] = ()) -> None:
        self._evicted(key)
        self.store.set(key, bytes(value), ttl)
        tag_set = frozenset(tags)
        if tag_set and self.store.get(key) is not None:
            self._key_tags[key] = tag_set
            for tag in tag_set:
                self._tag_keys.setdefault(tag, set()).add(key)

    async def delete(self, key: str) -> bool:
        self._evicted(key)
        return self.store.pop(key) is not None

    async def invalidate_tag(self, tag: str) -> int:
        removed = 0
        for key in self._tag_keys.pop(tag, set()):
            self._evicted(key)
            if self.store.pop(key) is not None:
                removed += 1
        return removed

    async def close(self) -> None:
        await super().close()
        self._key_tags.clear()
        self._tag_keys.clear()

    def _evicted(self, key: str) -> None:
        for tag in self._key_tags.pop(key, ()):
            members = self._tag_keys.get(tag)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._tag_keys[tag]
