"""BackgroundTasks: the platform owns every task it starts and ends them all on stop."""

from __future__ import annotations

import asyncio
import logging

import pytest

from sheepfold.tasks import BackgroundTasks


async def test_a_finished_task_is_forgotten_and_a_failed_one_logged(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks()

    async def fail() -> None:
        raise ValueError("boom")

    done = tasks.spawn(asyncio.sleep(0), name="quick")
    failed = tasks.spawn(fail(), name="failing")
    await asyncio.wait([done, failed])
    await asyncio.sleep(0)
    assert len(tasks) == 0
    assert any("failing" in record.getMessage() and record.levelno == logging.ERROR for record in caplog.records)


async def test_stop_cancels_and_awaits_every_task() -> None:
    tasks = BackgroundTasks()
    cancelled: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    for name in ("probe", "writer"):
        tasks.spawn(forever(name), name=name)
    await asyncio.sleep(0)  # let both reach their await
    assert tasks.names == ["probe", "writer"]
    assert await tasks.stop(timeout=1) == []
    assert sorted(cancelled) == ["probe", "writer"]
    assert len(tasks) == 0


async def test_stop_abandons_a_task_that_ignores_cancellation_and_names_it() -> None:
    tasks = BackgroundTasks()
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    task = tasks.spawn(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    assert await tasks.stop(timeout=0.1) == ["stubborn"]
    release.set()
    await task


async def test_spawn_after_stop_is_refused_without_a_never_awaited_coroutine() -> None:
    tasks = BackgroundTasks()
    await tasks.stop(timeout=1)
    with pytest.raises(RuntimeError, match="late"):
        tasks.spawn(asyncio.sleep(0), name="late")
