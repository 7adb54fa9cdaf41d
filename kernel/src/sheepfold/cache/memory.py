"""The in-memory cache adapter: one process, bounded, with a tag index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

from sheepfold.memory.adapter import MemoryAdapter

if TYPE_CHECKING:
    from sheepfold.tasks import BackgroundTasks


class CacheChanges(NamedTuple):
    """What a cache's journal holds: keys set or deleted, tags invalidated, and whether it overflowed."""

    keys: list[str]
    tags: list[str]
    overflowed: bool


@runtime_checkable
class CacheJournal(Protocol):
    """An adapter's journal of the cache changes a backend has not seen (the memory adapter keeps one)."""

    def changes(self) -> CacheChanges: ...

    def forget(self, changes: CacheChanges) -> None: ...

    def clear(self) -> None: ...


@runtime_checkable
class ClearableCache(Protocol):
    """A cache that can drop every value of its namespace (Redis: SCAN and UNLINK)."""

    async def clear(self) -> int: ...


class MemoryCache(MemoryAdapter[bytes]):
    """:class:`~sheepfold.cache.Cache` in process memory, at most ``max_entries`` values (LRU).

    Tags are an index from tag to keys, kept consistent when values are
    evicted or expire, so invalidating a tag touches only its members.

    It journals (a :class:`CacheJournal`) every key it set or deleted and
    every tag it invalidated, at most ``max_entries`` of each: as a fallback,
    that is what the backend holds stale after an outage. Past the bound it
    notes only that it overflowed.
    """

    def __init__(self, max_entries: int = 10_000, *, tasks: BackgroundTasks | None = None) -> None:
        self._key_tags: dict[str, frozenset[str]] = {}
        self._tag_keys: dict[str, set[str]] = {}
        self._changed_keys: dict[str, None] = {}
        self._invalidated_tags: dict[str, None] = {}
        self._overflowed = False
        super().__init__(max_entries, tasks=tasks)

    def changes(self) -> CacheChanges:
        """Keys set or deleted and tags invalidated since forgotten, and whether the journal overflowed."""
        return CacheChanges(list(self._changed_keys), list(self._invalidated_tags), self._overflowed)

    def forget(self, changes: CacheChanges) -> None:
        """Drop what a recovery applied to the backend."""
        for key in changes.keys:
            self._changed_keys.pop(key, None)
        for tag in changes.tags:
            self._invalidated_tags.pop(tag, None)
        if changes.overflowed:
            self._overflowed = False

    def clear(self) -> None:
        """Drop every value and the journal (traffic is back on the backend; the next outage starts empty)."""
        self.store.clear()
        self._key_tags.clear()
        self._tag_keys.clear()
        self._changed_keys.clear()
        self._invalidated_tags.clear()
        self._overflowed = False

    def _journal(self, journal: dict[str, None], item: str) -> None:
        if self._overflowed:
            return
        journal[item] = None
        if len(journal) > self.store.max_entries:
            self._overflowed = True
            self._changed_keys.clear()
            self._invalidated_tags.clear()

    async def get(self, key: str) -> bytes | None:
        return self.store.get(key)

    async def set(self, key: str, value: bytes, ttl: float | None = None, tags: Iterable[str] = ()) -> None:
        self._journal(self._changed_keys, key)
        self._evicted(key)
        self.store.set(key, bytes(value), ttl)
        tag_set = frozenset(tags)
        if tag_set and self.store.get(key) is not None:
            self._key_tags[key] = tag_set
            for tag in tag_set:
                self._tag_keys.setdefault(tag, set()).add(key)

    async def delete(self, key: str) -> bool:
        self._journal(self._changed_keys, key)
        self._evicted(key)
        return self.store.pop(key) is not None

    async def invalidate_tag(self, tag: str) -> int:
        self._journal(self._invalidated_tags, tag)
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
