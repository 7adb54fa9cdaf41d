"""A queue pool that counts the callers waiting for a connection and remembers its high-water marks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry


@dataclass(frozen=True)
class PoolFigures:
    """One sample of a pool: what it holds and how much of it is in use.

    ``capacity`` is ``size + max_overflow``, the most connections the pool
    opens; ``use_percent`` is ``checked_out`` of ``capacity``. The ``peak_*``
    figures are the highest seen since the previous sample, so a burst
    between two samples is not missed.
    """

    size: int
    max_overflow: int
    checked_out: int
    overflow: int  # connections open beyond ``size``
    waiting: int
    peak_checked_out: int
    peak_waiting: int

    @property
    def capacity(self) -> int:
        return self.size + self.max_overflow

    @property
    def use_percent(self) -> float:
        return 100.0 * self.checked_out / self.capacity if self.capacity else 0.0

    @property
    def peak_use_percent(self) -> float:
        return 100.0 * self.peak_checked_out / self.capacity if self.capacity else 0.0

    def to_json(self) -> dict[str, int | float]:
        return {
            "size": self.size,
            "max_overflow": self.max_overflow,
            "checked_out": self.checked_out,
            "overflow": self.overflow,
            "waiting": self.waiting,
            "use_percent": round(self.use_percent, 1),
            "peak_checked_out": self.peak_checked_out,
            "peak_waiting": self.peak_waiting,
        }


class WatchedQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio queue pool, plus the figures its monitor needs.

    SQLAlchemy knows how many connections are out but not how many callers
    queue for one; this pool counts a caller as waiting while it blocks
    because every connection is out and no overflow is left. Counting costs
    a few integer operations per checkout.
    """

    waiting = 0
    _peak_checked_out = 0
    _peak_waiting = 0
    lifetime_peak_checked_out = 0

    def _do_get(self) -> ConnectionPoolEntry:
        # _do_get is QueuePool's checkout, and _max_overflow/_overflow its own counters (SQLAlchemy 2.x):
        # a caller blocks exactly when SQLAlchemy's own "wait" condition holds and nothing is checked in.
        must_wait = -1 < self._max_overflow <= self._overflow and self.checkedin() == 0
        if must_wait:
            self.waiting += 1
            self._peak_waiting = max(self._peak_waiting, self.waiting)
        try:
            entry = super()._do_get()
        finally:
            if must_wait:
                self.waiting -= 1
        out = self.checkedout()
        if out > self._peak_checked_out:
            self._peak_checked_out = out
            self.lifetime_peak_checked_out = max(self.lifetime_peak_checked_out, out)
        return entry

    def sample(self, *, reset_peaks: bool = True) -> PoolFigures:
        """The figures now, with the peaks since the last reset (which ``reset_peaks`` starts anew)."""
        out = self.checkedout()
        figures = PoolFigures(
            size=self.size(),
            max_overflow=self._max_overflow,
            checked_out=out,
            overflow=max(self.overflow(), 0),
            waiting=self.waiting,
            peak_checked_out=max(self._peak_checked_out, out),
            peak_waiting=max(self._peak_waiting, self.waiting),
        )
        if reset_peaks:
            self._peak_checked_out = out
            self._peak_waiting = self.waiting
        return figures
