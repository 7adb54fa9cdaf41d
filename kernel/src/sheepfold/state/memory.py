"""The in-memory state adapter: one process, bounded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sheepfold.memory.adapter import MemoryAdapter

if TYPE_CHECKING:
    from sheepfold.tasks import BackgroundTasks


class MemoryState(MemoryAdapter[bytes]):
    """:class:`~sheepfold.state.State` in process memory, at most ``max_entries`` keys (LRU)."""

    def __init__(self, max_entries: int = 100_000, *, tasks: BackgroundTasks | None = None) -> None:
        super().__init__(max_entries, tasks=tasks)

    async def get(self, key: str) -> bytes | None:
        return self.store.get(key)

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self.store.set(key, bytes(value), ttl)

    async def delete(self, key: str) -> bool:
        return self.store.pop(key) is not None

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        current = self.store.get(key)
        if current is None:
            self.store.set(key, str(amount).encode(), ttl)
            return amount
        try:
            value = int(current) + amount
        except ValueError:
            raise ValueError(f"value under {key!r} is not an integer") from None
        self.store.set_until(key, str(value).encode(), self.store.expires_at(key))
        return value
