"""GreenletRunner: greenlet_spawn's semantics, on greenlets that are kept and reused."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from greenlet import getcurrent
from sqlalchemy.util import await_

from sheepfold_database.greenlets import GreenletRunner

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


async def _double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


def _sync_caller(value: int) -> int:
    # What SQLAlchemy's synchronous code does: await a driver coroutine from inside a greenlet.
    return await_(_double(value)) + await_(_double(1))


async def test_runs_a_function_that_awaits() -> None:
    runner = GreenletRunner(keep=2)
    assert await runner.run(_sync_caller, 20) == 42


async def test_a_finished_greenlet_serves_the_next_call() -> None:
    runner = GreenletRunner(keep=2)
    await runner.run(_sync_caller, 1)
    (kept,) = runner._idle
    await runner.run(_sync_caller, 2)
    assert runner._idle == [kept]


async def test_overlapping_calls_get_their_own_greenlets_and_keep_is_a_bound() -> None:
    runner = GreenletRunner(keep=1)
    release = asyncio.Event()
    seen: list[object] = []

    def waits(tag: int) -> int:
        seen.append(getcurrent())
        await_(release.wait())
        return tag

    calls = [asyncio.ensure_future(runner.run(waits, tag)) for tag in range(3)]
    await asyncio.sleep(0.01)
    assert len(set(map(id, seen))) == 3  # none shared while suspended
    release.set()
    assert await asyncio.gather(*calls) == [0, 1, 2]
    assert len(runner._idle) == 1


async def test_an_exception_reaches_the_caller_and_the_greenlet_stays_usable() -> None:
    runner = GreenletRunner(keep=1)

    def fails() -> None:
        await_(asyncio.sleep(0))
        raise LookupError("no such row")

    with pytest.raises(LookupError, match="no such row"):
        await runner.run(fails)
    assert await runner.run(_sync_caller, 1) == 4
    (kept,) = runner._idle
    assert kept.result is None and kept.failure is None  # nothing of a finished call is held
    assert kept.gr_context is None  # nor the context variables of the request it served


async def test_an_awaited_error_is_thrown_into_the_function() -> None:
    runner = GreenletRunner(keep=1)

    async def broken() -> None:
        raise ConnectionResetError("peer reset")

    def handles() -> str:
        try:
            await_(broken())
        except ConnectionResetError as error:
            return f"handled: {error}"
        return "not reached"

    assert await runner.run(handles) == "handled: peer reset"


async def test_cancelling_the_caller_cancels_the_awaited_work_inside() -> None:
    runner = GreenletRunner(keep=1)
    started = asyncio.Event()
    cleaned_up: list[str] = []

    def slow() -> None:
        started.set()
        try:
            await_(asyncio.sleep(30))
        finally:
            cleaned_up.append("finally ran")

    call = asyncio.ensure_future(runner.run(slow))
    await started.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert cleaned_up == ["finally ran"]
    assert await runner.run(_sync_caller, 1) == 4  # the greenlet still serves


async def test_the_function_sees_the_callers_context_variables() -> None:
    runner = GreenletRunner(keep=1)
    request_id.set("first")
    assert await runner.run(request_id.get) == "first"
    request_id.set("second")
    assert await runner.run(request_id.get) == "second"
