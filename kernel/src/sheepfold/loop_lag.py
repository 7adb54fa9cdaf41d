"""Event-loop lag: how late this instance runs its own callbacks (overload, not an outage)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: A loop this late (seconds) makes any call's timing say nothing about its backend.
LATE = 0.1


class LoopLag:
    """Measures the event loop's lag by sleeping ``interval`` seconds and timing the oversleep.

    :meth:`run` is the measuring loop (started by the platform through
    ``platform.tasks``). The fallback switch asks :meth:`late_since` before it
    counts a timed-out call as the backend's failure: a call whose time
    overlapped a late loop may have been answered on time and read late.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        #: The last oversleep measured, seconds.
        self.current = 0.0
        #: The largest oversleep measured since start (``/health``).
        self.worst = 0.0
        self._last_tick = time.monotonic()
        self._last_late_at = float("-inf")

    async def run(self, on_measured: Callable[[float], None] | None = None) -> None:
        """Measure forever (cancel to stop), telling ``on_measured`` each lag (a metric's ``set``)."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.interval)
            self._tick(time.monotonic() - before - self.interval)
            if on_measured is not None:
                on_measured(self.current)

    def _tick(self, lag: float) -> None:
        now = time.monotonic()
        self._last_tick = now
        self.current = max(0.0, lag)
        self.worst = max(self.worst, self.current)
        if lag > LATE:
            self._last_late_at = now

    def late_since(self, started: float) -> bool:
        """True when the loop was measured late after ``started`` (``time.monotonic()``), or is late now.

        "Late now": the measuring task itself has not run for longer than its
        interval plus :data:`LATE` (the loop is held at this very moment, so
        its oversleep is not measured yet).
        """
        now = time.monotonic()
        return self._last_late_at >= started or now - self._last_tick > self.interval + LATE

    def describe(self) -> dict[str, float]:
        return {"current_seconds": round(self.current, 6), "worst_seconds": round(self.worst, 6)}
