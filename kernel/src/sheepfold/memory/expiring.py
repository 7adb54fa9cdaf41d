"""A bounded dictionary whose entries expire: the storage of every memory adapter."""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

V = TypeVar("V")


class ExpiringLRU(Generic[V]):
    """At most ``max_entries`` values, least recently used evicted first.

    Entries with a TTL are dropped once expired, whether or not anyone reads
    them: every write purges what has expired (a heap keeps that cheap) and
    :meth:`purge_expired` lets a sweeper do the same while no one writes.
    ``on_evict`` is called with each key that leaves by eviction or expiry,
    so an owner can keep side indexes (cache tags) consistent.
    """

    def __init__(
        self,
        max_entries: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_evict: Callable[[str], None] | None = None,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        #: The clock every deadline is on (monotonic seconds); read it once and pass it to :meth:`get_at`.
        self.clock = clock
        self._on_evict = on_evict
        self._values: OrderedDict[str, tuple[V, float | None]] = OrderedDict()
        self._deadlines: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._values))

    def get(self, key: str) -> V | None:
        return self.get_at(key, self.clock())

    def get_at(self, key: str, now: float) -> V | None:
        """:meth:`get` for a caller that has just read the clock (``now``): one reading serves both."""
        entry = self._values.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and expires_at <= now:
            self._drop(key)
            return None
        self._values.move_to_end(key)
        return value

    def expires_at(self, key: str) -> float | None:
        """The monotonic deadline of ``key``, or None when it has none or is absent."""
        entry = self._values.get(key)
        return None if entry is None else entry[1]

    def set(self, key: str, value: V, ttl: float | None = None) -> None:
        expires_at = None if ttl is None else self.clock() + ttl
        self.set_until(key, value, expires_at)

    def set_until(self, key: str, value: V, expires_at: float | None) -> None:
        """Store ``value`` until the monotonic time ``expires_at`` (None: no expiry)."""
        self.purge_expired()
        self._values[key] = (value, expires_at)
        self._values.move_to_end(key)
        if expires_at is not None:
            heapq.heappush(self._deadlines, (expires_at, key))
        while len(self._values) > self.max_entries:
            oldest = next(iter(self._values))
            self._drop(oldest)

    def pop(self, key: str) -> V | None:
        """Remove ``key``; its value, or None when it was absent or had expired."""
        entry = self._values.pop(key, None)
        if entry is None or (entry[1] is not None and entry[1] <= self.clock()):
            return None
        return entry[0]

    def purge_expired(self) -> int:
        """Drop every expired entry; returns how many were dropped."""
        now = self.clock()
        dropped = 0
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            deadline, key = heapq.heappop(deadlines)
            entry = self._values.get(key)
            # A heap item is stale when the key was rewritten with another deadline.
            if entry is not None and entry[1] == deadline:
                self._drop(key)
                dropped += 1
        if len(deadlines) > 2 * self.max_entries:
            # Rewrites leave stale heap items behind; rebuild from the live entries.
            self._deadlines = [(expires, key) for key, (_, expires) in self._values.items() if expires is not None]
            heapq.heapify(self._deadlines)
        return dropped

    def clear(self) -> None:
        self._values.clear()
        self._deadlines.clear()

    def _drop(self, key: str) -> None:
        self._values.pop(key, None)
        if self._on_evict is not None:
            self._on_evict(key)
