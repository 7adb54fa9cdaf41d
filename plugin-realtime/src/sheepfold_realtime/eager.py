"""Running a coroutine by hand until it first suspends, and finishing it later inside a task.

Sending a WebSocket frame to a client that keeps up completes without ever
suspending (uvicorn writes to the transport at once). Driving that send by
hand from the delivery loop costs half of what waking a task per socket costs
(measured: the per-socket writer task doubled uvicorn's own time per send).
Only a send that does suspend (the client's buffer is full) needs a task: the
suspended coroutine is wrapped in :class:`Suspended` and awaited there, which is
what Python 3.12's eager tasks do.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any


class Suspended:
    """A coroutine that suspended on ``yielded`` while run by hand; awaiting this finishes it."""

    __slots__ = ("coroutine", "yielded")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coroutine = coroutine
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        yielded = self.yielded
        while True:
            try:
                value = yield yielded
            except BaseException as error:  # a cancellation thrown in by the awaiting task
                try:
                    yielded = self.coroutine.throw(error)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                yielded = self.coroutine.send(value)
            except StopIteration as stop:
                return stop.value


def run_until_suspended(coroutine: Coroutine[Any, Any, Any]) -> Suspended | None:
    """Run ``coroutine`` by hand: None when it finished, a :class:`Suspended` to await when it did not.

    An exception the coroutine raises before suspending propagates.
    """
    try:
        yielded = coroutine.send(None)
    except StopIteration:
        return None
    return Suspended(coroutine, yielded)
