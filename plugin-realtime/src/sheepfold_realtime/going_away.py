"""Closing sockets with 1001 when the server is told to stop, before uvicorn closes them with 1012.

On SIGTERM or SIGINT uvicorn first closes every open WebSocket itself (close
code 1012, "service restart") and only then runs the app's shut-down, where
the hub would say 1001 ("going away"). So while the app runs, the signal
handler uvicorn installed is wrapped: the wrapper starts closing every socket
with 1001 and then calls uvicorn's handler, whose shut-down begins a tenth of
a second later (its main loop's tick), by which time the close frames are out.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any

from sheepfold.tasks import BackgroundTasks

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GoingAwayOnSignal:
    """Wraps the process's stop-signal handlers with ``close_all`` while installed (main thread only).

    ``close_all`` runs as a task of ``tasks`` (``platform.tasks``).
    """

    def __init__(self, close_all: Callable[[], Coroutine[Any, Any, None]], tasks: BackgroundTasks) -> None:
        self._close_all = close_all
        self._tasks = tasks
        self._previous: dict[signal.Signals, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread (an app served by a test's thread)
        self._loop = asyncio.get_running_loop()
        for number in STOP_SIGNALS:
            previous = signal.getsignal(number)
            if callable(previous):  # uvicorn's handle_exit; leave default or ignored dispositions alone
                self._previous[number] = previous
                signal.signal(number, self._handle)

    def uninstall(self) -> None:
        for number, previous in self._previous.items():
            with contextlib.suppress(ValueError):
                signal.signal(number, previous)
        self._previous.clear()

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._start_closing)
        previous = self._previous.get(signal.Signals(number))
        if previous is not None:
            previous(number, frame)

    def _start_closing(self) -> None:
        if not self._tasks.stopped:  # a signal that lands while the platform stops: the shut-down closes them
            self._tasks.spawn(self._close_all(), name="sheepfold-realtime-going-away")
