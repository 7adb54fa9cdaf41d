"""What every in-memory adapter shares: a bounded store and a sweeper for expired entries."""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

from sheepfold.memory.expiring import ExpiringLRU
from sheepfold.periodic import PeriodicTask
from sheepfold.tasks import BackgroundTasks

logger = logging.getLogger("sheepfold.memory")

V = TypeVar("V")


class MemoryAdapter(Generic[V]):
    """Base of the kernel's memory adapters.

    ``start`` runs a sweeper that drops expired entries every
    ``sweep_interval`` seconds, so an idle process frees them without waiting
    for a read or a write. ``ping`` always succeeds: memory is never down.
    ``tasks`` owns the adapter's background tasks: the platform's (the
    providers pass ``platform.tasks``), or a private one when None (an
    adapter used alone); ``close`` ends them either way.
    """

    sweep_interval = 1.0

    def __init__(self, max_entries: int, *, tasks: BackgroundTasks | None = None) -> None:
        self.store: ExpiringLRU[V] = ExpiringLRU(max_entries, on_evict=self._evicted)
        self.tasks = tasks if tasks is not None else BackgroundTasks()
        self._sweeper: PeriodicTask | None = None

    def _evicted(self, key: str) -> None:
        """Called with every key that leaves by eviction or expiry; subclasses keep indexes here."""

    async def ping(self) -> None:
        return None

    async def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = PeriodicTask(
                self.store.purge_expired, self.sweep_interval, name="sheepfold-memory-sweeper", logger=logger
            )
        self._sweeper.start(self.tasks)

    async def close(self) -> None:
        if self._sweeper is not None:
            await self._sweeper.stop()
        self.store.clear()
