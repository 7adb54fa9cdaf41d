"""The in-memory state adapter: one process, bounded."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sheepfold.memory.adapter import MemoryAdapter

if TYPE_CHECKING:
    from sheepfold.tasks import BackgroundTasks

#: A list under a key, newest item first (a tuple: a reader's copy cannot change under it).
CappedList = tuple[bytes, ...]


class MemoryState(MemoryAdapter[bytes | CappedList]):
    """:class:`~sheepfold.state.State` in process memory, at most ``max_entries`` keys (LRU).

    A capped list counts as one entry and holds at most the ``max_length``
    its pushes name. Every method runs without awaiting, so each is atomic
    within the process (a compare-and-set included).
    """

    def __init__(self, max_entries: int = 100_000, *, tasks: BackgroundTasks | None = None) -> None:
        super().__init__(max_entries, tasks=tasks)

    async def get(self, key: str) -> bytes | None:
        return self._value(key)

    async def get_many(self, keys: Sequence[str]) -> dict[str, bytes | None]:
        now = self.store.clock()
        values = {}
        for key in keys:
            value = self.store.get_at(key, now)
            values[key] = value if isinstance(value, bytes) else None  # a list reads as None, as MGET answers
        return values

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self.store.set(key, bytes(value), ttl)

    async def delete(self, key: str) -> bool:
        return self.store.pop(key) is not None

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        current = self._value(key)
        if current is None:
            self.store.set(key, str(amount).encode(), ttl)
            return amount
        try:
            value = int(current) + amount
        except ValueError:
            raise ValueError(f"value under {key!r} is not an integer") from None
        self.store.set_until(key, str(value).encode(), self.store.expires_at(key))
        return value

    async def ttl(self, key: str) -> float | None:
        if self.store.get(key) is None:
            return None
        expires_at = self.store.expires_at(key)
        return math.inf if expires_at is None else max(0.0, expires_at - self.store.clock())

    async def compare_and_set(self, key: str, expected: bytes | None, new: bytes, ttl: float | None = None) -> bool:
        # Expecting absence looks only at presence (a list is present), as SET NX does.
        current = self.store.get(key) if expected is None else self._value(key)
        if current != expected:
            return False
        self.store.set(key, bytes(new), ttl)
        return True

    async def list_push(self, key: str, value: bytes, *, max_length: int, ttl: float | None = None) -> int:
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, not {max_length}")
        items = (bytes(value), *self._list(key)[: max_length - 1])
        if ttl is None:
            self.store.set_until(key, items, self.store.expires_at(key))
        else:
            self.store.set(key, items, ttl)
        return len(items)

    async def list_range(self, key: str, start: int = 0, stop: int = -1) -> list[bytes]:
        items = self._list(key)
        # LRANGE's bounds: both included, negative from the end, out of range clipped.
        length = len(items)
        first = max(0, start + length if start < 0 else start)
        last = stop + length if stop < 0 else min(stop, length - 1)
        return list(items[first : last + 1]) if first <= last else []

    def _value(self, key: str) -> bytes | None:
        value = self.store.get(key)
        if value is not None and not isinstance(value, bytes):
            raise TypeError(f"{key!r} holds a list, not a value")
        return value

    def _list(self, key: str) -> CappedList:
        items = self.store.get(key)
        if items is None:
            return ()
        if isinstance(items, bytes):
            raise TypeError(f"{key!r} holds a value, not a list")
        return items
