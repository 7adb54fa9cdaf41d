"""The in-memory rate limiter: exact sliding windows for one process, bounded."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from sheepfold.memory.adapter import MemoryAdapter
from sheepfold.ratelimit.policy import RateLimitPolicy, RateLimitWindow
from sheepfold.ratelimit.port import RateLimitResult, WindowState, one_window_result

if TYPE_CHECKING:
    from sheepfold.tasks import BackgroundTasks


class _KeyRecord:
    """One key under one policy: the admitted hits of each window, and its penalty state."""

    __slots__ = ("blocked_until", "breaches", "expires_at", "forget_at", "hits", "newest", "totals")

    def __init__(self, windows: int) -> None:
        # Per window, (time, cost) of each admitted hit, oldest first; a window never holds more than its limit.
        self.hits: list[deque[tuple[float, int]]] = [deque() for _ in range(windows)]
        self.totals = [0] * windows
        self.breaches = 0
        self.blocked_until = 0.0
        self.forget_at = 0.0
        self.newest = float("-inf")  # when the last admitted hit was counted
        self.expires_at = 0.0  # the deadline the store holds for this record

    def wait(self, index: int, window: RateLimitWindow, cost: int, now: float) -> float:
        """Seconds until enough of window ``index``'s hits have left it for ``cost`` more units."""
        if cost > window.limit:
            return window.seconds
        needed = self.totals[index] + cost - window.limit
        freed = 0
        for at, units in self.hits[index]:
            freed += units
            if freed >= needed:
                return at + window.seconds - now
        return 0.0


class MemoryRateLimiter(MemoryAdapter[_KeyRecord]):
    """:class:`~sheepfold.ratelimit.RateLimiter` in process memory, at most ``max_entries`` keys (LRU).

    The same algorithm as the Redis adapter (a sliding log per window, with
    penalties), on this process's monotonic clock. A key's entry is kept
    until its last hit has left its longest window and its penalty is
    forgotten, and at most about twice that long.
    """

    def __init__(self, max_entries: int = 100_000, *, tasks: BackgroundTasks | None = None) -> None:
        super().__init__(max_entries, tasks=tasks)

    async def hit(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> RateLimitResult:
        # This runs on every rate-limited request: loops avoid zip/enumerate and the common
        # single-window result is built without a comprehension (each costs more than the arithmetic).
        store = self.store
        now = store.clock()
        entry_key = policy.fingerprint + "|" + key
        windows = policy.windows
        count = len(windows)
        record = store.get_at(entry_key, now)
        if record is None:
            record = _KeyRecord(count)
        totals = record.totals
        all_hits = record.hits
        fits = True
        for index in range(count):
            window = windows[index]
            hits = all_hits[index]
            horizon = now - window.seconds
            while hits and hits[0][0] <= horizon:
                totals[index] -= hits.popleft()[1]
            if totals[index] + cost > window.limit:
                fits = False
        if record.breaches and now >= record.forget_at:
            record.breaches = 0
        blocked = record.blocked_until > now
        allowed = fits and not blocked
        retry_after = 0.0
        if allowed:
            entry = (now, cost)
            record.newest = now
            for index in range(count):
                all_hits[index].append(entry)
                totals[index] += cost
        elif blocked:
            retry_after = record.blocked_until - now
        else:
            retry_after = max(
                record.wait(index, window, cost, now)
                for index, window in enumerate(windows)
                if totals[index] + cost > window.limit
            )
            if policy.penalty is not None:
                record.breaches += 1
                block = policy.penalty.block_for(record.breaches)
                record.blocked_until = now + block
                record.forget_at = record.blocked_until + policy.penalty.forget_after
                retry_after = max(retry_after, block)
                blocked = True
        # Every admitted hit is in every window, so the newest one (when a window holds any) is the same.
        newest = record.newest
        # Keep the record while a hit is in a window or a penalty is remembered, and move its deadline
        # only when it falls short (to twice that), so a busy key does not rewrite it on every hit.
        longest = policy.longest
        needed = newest + longest
        if record.breaches and record.forget_at > needed:
            needed = record.forget_at
        if needed <= now:
            store.pop(entry_key)
        elif record.expires_at < needed:
            record.expires_at = max(needed, now + 2 * longest)
            store.set_until(entry_key, record, record.expires_at)
        if count == 1:
            window = windows[0]
            reset = newest + window.seconds - now if all_hits[0] else 0.0
            return one_window_result(window, window.limit - totals[0], reset, allowed, retry_after, blocked)
        states = tuple(
            [
                WindowState(
                    window, window.limit - totals[index], newest + window.seconds - now if all_hits[index] else 0.0
                )
                for index, window in enumerate(windows)
            ]
        )
        return RateLimitResult.of(allowed, retry_after, states, blocked)

    async def reset(self, key: str, policy: RateLimitPolicy) -> None:
        self.store.pop(policy.fingerprint + "|" + key)
