"""SQLAlchemy's ``greenlet_spawn`` on greenlets that are kept and reused, for the per-request pool calls.

SQLAlchemy's asyncio layer runs its synchronous code (a pool checkout, a
connection's return) in a new greenlet, which switches out to await the
driver's coroutines. From Python 3.11, a new greenlet also gets a frame stack
of its own: CPython maps 16 kB for it on its first call and unmaps it when the
greenlet dies. Two greenlets per request (checkout and return) were two
``mmap``/``munmap`` pairs and their page faults on every request, measured as
about a third of the server's time per request on a one-``SELECT`` route.
:class:`GreenletRunner` keeps finished greenlets and runs the next call on
one of them, with the semantics of ``greenlet_spawn``: the function may call
SQLAlchemy's ``await_``, an exception from an awaited coroutine (a
cancellation too) is thrown into it, and it sees the caller's context
variables.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

from greenlet import GreenletExit, getcurrent, greenlet

T = TypeVar("T")


class _Worker(greenlet):
    """Runs one call after another; between calls it waits, switched out, for the next one."""

    # SQLAlchemy's await_ switches out to the parent from any greenlet carrying this mark.
    __sqlalchemy_greenlet_provider__ = True

    def __init__(self) -> None:
        super().__init__(self._serve)
        self.result: Any = None
        # Not `error`: greenlet's class attribute of that name is its exception type.
        self.failure: BaseException | None = None

    def _serve(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        while True:
            try:
                self.result = fn(*args)
            except GreenletExit:
                raise  # the runner dropped this greenlet mid-call: end it
            except BaseException as error:
                self.failure = error
            # Idle, this greenlet must hold nothing of the call it ran.
            del fn, args
            fn, args = cast(greenlet, self.parent).switch(_FINISHED)  # run() sets the parent before each call


#: What a worker switches to its parent with when its call has returned or raised.
_FINISHED = object()


class GreenletRunner:
    """``await runner.run(fn, *args)``: ``greenlet_spawn(fn, *args)`` without a new greenlet per call.

    At most ``keep`` idle greenlets are kept; calls that overlap beyond
    that get new ones, which end after their call. A greenlet is only
    reused after its call has finished, so concurrent calls never share one.
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._idle: list[_Worker] = []

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        worker = self._idle.pop() if self._idle else _Worker()
        caller = getcurrent()
        worker.parent = caller
        worker.gr_context = caller.gr_context
        step = worker.switch(fn, args)
        while step is not _FINISHED:
            try:
                value = await step
            except BaseException:
                step = worker.throw(*sys.exc_info())
            else:
                step = worker.switch(value)
        result, error = worker.result, worker.failure
        # An idle greenlet keeps nothing of the request it served: no result, and not its context variables.
        worker.result = worker.failure = worker.gr_context = None
        if len(self._idle) < self.keep:
            self._idle.append(worker)
        if error is not None:
            try:
                raise error
            finally:
                del error  # the traceback refers to this frame: break the cycle
        return cast("T", result)  # what fn returned
