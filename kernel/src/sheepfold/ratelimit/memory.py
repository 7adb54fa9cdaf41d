"""The in-memory rate limiter: exact sliding windows for one process, bounded."""

from __future__ import annotations

from collections import deque

from sheepfold.memory.adapter import MemoryAdapter
from sheepfold.memory.expiring import ExpiringLRU
from sheepfold.ratelimit.policy import RateLimitPolicy, RateLimitWindow
from sheepfold.ratelimit.port import RateLimitResult, WindowState


class _KeyRecord:
    """One key under one policy: the admitted hits of each window, and its penalty state."""

    __slots__ = ("blocked_until", "breaches", "forget_at", "hits", "totals")

    def __init__(self, windows: int) -> None:
        # Per window, (time, cost) of each admitted hit, oldest first; a window never holds more than its limit.
        self.hits: list[deque[tuple[float, int]]] = [deque() for _ in range(windows)]
        self.totals = [0] * windows
        self.breaches = 0
        self.blocked_until = 0.0
        self.forget_at = 0.0

    def prune(self, index: int, horizon: float) -> None:
        hits = self.hits[index]
        while hits and hits[0][0] <= horizon:
            self.totals[index] -= hits.popleft()[1]

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


class MemoryRateLimiter(MemoryAdapter):
    """:class:`~sheepfold.ratelimit.RateLimiter` in process memory, at most ``max_entries`` keys (LRU).

    The same algorithm as the Redis adapter (a sliding log per window, with
    penalties), on this process's monotonic clock. A key's entry expires when
    its last hit has left its longest window and its penalty is forgotten.
    """

    store: ExpiringLRU[_KeyRecord]  # type: ignore[assignment]

    def __init__(self, max_entries: int = 100_000) -> None:
        super().__init__(max_entries)

    async def hit(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> RateLimitResult:
        store = self.store
        now = store.now()
        entry_key = f"{policy.fingerprint}|{key}"
        record = store.get(entry_key) or _KeyRecord(len(policy.windows))
        windows = policy.windows
        for index, window in enumerate(windows):
            record.prune(index, now - window.seconds)
        if record.breaches and now >= record.forget_at:
            record.breaches = 0
        blocked = record.blocked_until > now
        short = [index for index, window in enumerate(windows) if record.totals[index] + cost > window.limit]
        allowed = not blocked and not short
        retry_after = 0.0
        if allowed:
            for index in range(len(windows)):
                record.hits[index].append((now, cost))
                record.totals[index] += cost
        elif blocked:
            retry_after = record.blocked_until - now
        else:
            retry_after = max(record.wait(index, windows[index], cost, now) for index in short)
            if policy.penalty is not None:
                record.breaches += 1
                block = policy.penalty.block_for(record.breaches)
                record.blocked_until = now + block
                record.forget_at = record.blocked_until + policy.penalty.forget_after
                retry_after = max(retry_after, block)
                blocked = True
        states = tuple(
            WindowState(
                window,
                window.limit - record.totals[index],
                record.hits[index][-1][0] + window.seconds - now if record.hits[index] else 0.0,
            )
            for index, window in enumerate(windows)
        )
        expires_at = max(
            [hits[-1][0] + window.seconds for hits, window in zip(record.hits, windows, strict=True) if hits]
            + [record.forget_at if record.breaches else 0.0]
        )
        if expires_at > now:
            store.set_until(entry_key, record, expires_at)
        else:
            store.pop(entry_key)
        return RateLimitResult.of(allowed, retry_after, states, blocked)

    async def reset(self, key: str, policy: RateLimitPolicy) -> None:
        self.store.pop(f"{policy.fingerprint}|{key}")
