"""Background tasks owned by one platform: started through it, cancelled and awaited by it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger("sheepfold.tasks")


def cancel_requested() -> bool:
    """True when the running task was asked to cancel, even if the ``CancelledError`` never reached it.

    Some client libraries swallow a cancellation that lands inside one of
    their own timeouts (redis-py can); a loop that checks this at each turn
    still ends when :meth:`BackgroundTasks.stop` cancels it.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class BackgroundTasks:
    """Every background task of one platform (probes, listeners, recovery steps, socket writers).

    In the spirit of a task group: :meth:`spawn` starts a task and keeps it
    until it ends; a task that fails is logged with its traceback (never
    "exception was never retrieved"), at debug level when it failed after
    being cancelled (cleaning up against a peer that is gone: the failure
    that got it cancelled is reported where it happened); :meth:`stop`
    cancels whatever still runs and awaits it within a bound, logging the
    tasks it had to abandon. Plugins reach it as ``platform.tasks``; nothing
    in sheepfold is started with a bare ``asyncio.create_task``.

    An object that can also be used without a platform (an adapter in a
    test) takes ``tasks: BackgroundTasks | None`` and makes a private one
    when given None; it then ends its own tasks in its ``close``.
    """

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coroutine: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Start ``coroutine`` as a task named ``name`` and own it until it ends.

        Raises :class:`RuntimeError` after :meth:`stop` (the coroutine is
        closed, so no "never awaited" warning follows).
        """
        if self._closed:
            coroutine.close()
            raise RuntimeError(f"the platform is stopping; task {name!r} was not started")
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._running.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            level = logging.DEBUG if task.cancelling() else logging.ERROR
            logger.log(level, "background task %s failed", task.get_name(), exc_info=error)

    @property
    def names(self) -> list[str]:
        """The names of the tasks still running, sorted (``/health`` and tests read them)."""
        return sorted(task.get_name() for task in self._running)

    def __len__(self) -> int:
        return len(self._running)

    def __contains__(self, task: object) -> bool:
        """Whether ``task`` is one of these, still running (tests check that nothing runs unowned)."""
        return task in self._running

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called: :meth:`spawn` refuses new tasks."""
        return self._closed

    async def stop(self, timeout: float) -> list[str]:
        """Cancel every task, await them for at most ``timeout`` seconds; the names of those abandoned.

        Idempotent. Tasks spawned by a task while it is being cancelled are
        refused, so the set only shrinks.
        """
        self._closed = True
        pending = set(self._running)
        for task in pending:
            task.cancel()
        if pending:
            _done, still_running = await asyncio.wait(pending, timeout=timeout)
        else:
            still_running = set()
        abandoned = sorted(task.get_name() for task in still_running)
        if abandoned:
            logger.error("%d background task(s) did not end within %s s: %s", len(abandoned), timeout, abandoned)
        return abandoned
