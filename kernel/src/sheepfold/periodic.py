"""A background task that runs one action on an interval: sweepers, samplers, monitors."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sheepfold.tasks import cancel_requested

if TYPE_CHECKING:
    from sheepfold.tasks import BackgroundTasks


class PeriodicTask:
    """Runs ``action`` every ``interval`` seconds between :meth:`start` and :meth:`stop`.

    The rounds run as a task of the :class:`~sheepfold.tasks.BackgroundTasks`
    given to :meth:`start` (the platform's, ``platform.tasks``), so the
    platform's stop ends them even if :meth:`stop` is never called.

    ``action`` may be sync or async. A round that raises is logged on
    ``logger`` at ``failure_level`` (with its traceback) and the next round
    still runs: a monitor must outlive any surprise. The first round runs one
    interval after ``start``, or at once with ``immediately``.

    Args:
        action: what runs each round, ``fn()`` or ``async fn()``; its result is ignored.
        interval: seconds from the end of one round to the start of the next.
        name: the task's name (logs, the platform's abandoned-task report); prefix it with the plugin's name.
        logger: where a failed round is logged.
        immediately: run the first round at :meth:`start` instead of one interval later.
        failure_level: the logging level of a failed round (``logging.WARNING`` for a probe that is
            expected to fail during an outage).
    """

    def __init__(
        self,
        action: Callable[[], Awaitable[object] | object],
        interval: float,
        *,
        name: str,
        logger: logging.Logger,
        immediately: bool = False,
        failure_level: int = logging.ERROR,
    ) -> None:
        self.action = action
        self.interval = interval
        self.name = name
        self.immediately = immediately
        self.failure_level = failure_level
        self._logger = logger
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the rounds' task has started and not ended."""
        return self._task is not None and not self._task.done()

    def start(self, tasks: BackgroundTasks) -> None:
        """Start the rounds as a task owned by ``tasks`` (a no-op while they run); needs a running event loop."""
        if not self.running:
            self._task = tasks.spawn(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the rounds and wait until the task has ended; idempotent."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        if not self.immediately:
            await asyncio.sleep(self.interval)
        while True:
            try:
                outcome = self.action()
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                self._logger.log(
                    self.failure_level,
                    "%s: a round failed; the next one runs in %s s",
                    self.name,
                    self.interval,
                    exc_info=True,
                )
            if cancel_requested():
                raise asyncio.CancelledError  # the round swallowed our cancellation: end all the same
            await asyncio.sleep(self.interval)
