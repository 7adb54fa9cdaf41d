"""A queue pool that counts the callers waiting for a connection and remembers its high-water marks."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from sheepfold_database.pre_ping import PrePing


@dataclass(frozen=True)
class PoolFigures:
    """One sample of a pool: what it holds and how much of it is in use.

    ``capacity`` is ``size + max_overflow``, the most connections the pool
    opens; ``use_percent`` is ``checked_out`` of ``capacity``. The ``peak_*``
    figures are the highest seen since the previous sample, so a burst
    between two samples is not missed; ``lifetime_peak_checked_out`` the
    highest since the pool was made. ``busy_seconds`` is the connection-seconds
    spent checked out since then, at ``taken_at`` (``time.monotonic()``): two
    samples give the time-weighted average use between them.
    """

    size: int
    max_overflow: int
    checked_out: int
    overflow: int  # connections open beyond ``size``
    waiting: int
    peak_checked_out: int
    peak_waiting: int
    lifetime_peak_checked_out: int = 0
    busy_seconds: float = 0.0
    taken_at: float = 0.0

    @property
    def capacity(self) -> int:
        return self.size + self.max_overflow

    @property
    def use_percent(self) -> float:
        return 100.0 * self.checked_out / self.capacity if self.capacity else 0.0

    @property
    def peak_use_percent(self) -> float:
        return 100.0 * self.peak_checked_out / self.capacity if self.capacity else 0.0

    def average_use_percent(self, since: PoolFigures) -> float:
        """The time-weighted average use between ``since`` (an earlier sample) and this one; current use if none."""
        elapsed = self.taken_at - since.taken_at
        if elapsed <= 0 or not self.capacity:
            return self.use_percent
        return 100.0 * (self.busy_seconds - since.busy_seconds) / elapsed / self.capacity


class WatchedQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio queue pool, plus the figures its monitor needs.

    SQLAlchemy knows how many connections are out but not how many callers
    queue for one; this pool counts a caller as waiting while it blocks
    because every connection is out and no overflow is left. Counting costs
    a few integer operations per checkout. With ``pre_ping`` set, a
    connection taken from the queue is checked before it is handed out (see
    ``sheepfold_database.pre_ping``): a dead one is closed and reopened, and
    every connection opened before it is replaced at its next checkout, as
    SQLAlchemy's own pre-ping does (the server likely restarted).
    """

    pre_ping: PrePing | None = None

    waiting = 0
    _peak_checked_out = 0
    _peak_waiting = 0
    lifetime_peak_checked_out = 0
    # The integral of checkedout() over time, brought up to date before every checkout and return.
    _busy_seconds = 0.0
    _busy_since: float | None = None

    def _accrue(self) -> float:
        """Add the connection-seconds since the last change to the integral; the time now."""
        now = time.monotonic()
        if self._busy_since is not None:
            self._busy_seconds += self.checkedout() * (now - self._busy_since)
        self._busy_since = now
        return now

    def recreate(self) -> WatchedQueuePool:
        pool = super().recreate()
        assert isinstance(pool, WatchedQueuePool)
        pool.pre_ping = self.pre_ping
        return pool

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        now = self._accrue()
        if self.pre_ping is not None:
            self.pre_ping.mark_idle(record, now)
        super()._do_return_conn(record)

    def _do_get(self) -> ConnectionPoolEntry:
        now = self._accrue()
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
        if self.pre_ping is not None and not self.pre_ping.alive(entry, time.monotonic() if must_wait else now):
            # Every connection as old as this one is suspect: replaced at its checkout (SQLAlchemy's rule).
            self._invalidate_time = time.time()
            entry.invalidate()  # closed now; checkout opens a new one
        out = self.checkedout()
        # Two separate marks: a sample resetting the interval's peak (maybe while this checkout awaited a
        # new connection, already counted out) must not keep the lifetime peak from rising.
        if out > self._peak_checked_out:
            self._peak_checked_out = out
        if out > self.lifetime_peak_checked_out:
            self.lifetime_peak_checked_out = out
        return entry

    def sample(self, *, reset_peaks: bool = True) -> PoolFigures:
        """The figures now, with the peaks since the last reset (which ``reset_peaks`` starts anew)."""
        now = self._accrue()
        out = self.checkedout()
        self.lifetime_peak_checked_out = max(self.lifetime_peak_checked_out, out)
        figures = PoolFigures(
            size=self.size(),
            max_overflow=self._max_overflow,
            checked_out=out,
            overflow=max(self.overflow(), 0),
            waiting=self.waiting,
            peak_checked_out=max(self._peak_checked_out, out),
            peak_waiting=max(self._peak_waiting, self.waiting),
            lifetime_peak_checked_out=self.lifetime_peak_checked_out,
            busy_seconds=self._busy_seconds,
            taken_at=now,
        )
        if reset_peaks:
            self._peak_checked_out = out
            self._peak_waiting = self.waiting
        return figures
