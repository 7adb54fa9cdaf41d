"""BackgroundTasks: the platform owns every task it starts and ends them all on stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from pathlib import Path

import pytest

from sheepfold import create_app
from sheepfold.tasks import BackgroundTasks, cancel_requested


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


async def test_a_failure_met_while_being_cancelled_is_only_a_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks()
    started = asyncio.Event()

    async def closing_against_a_dead_peer() -> None:
        try:
            started.set()
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ConnectionResetError("the peer is gone") from None

    task = tasks.spawn(closing_against_a_dead_peer(), name="polite-close")
    await started.wait()
    with caplog.at_level(logging.DEBUG, logger="sheepfold.tasks"):
        task.cancel()
        await asyncio.wait([task])
        await asyncio.sleep(0)
    (record,) = [r for r in caplog.records if "polite-close" in r.getMessage()]
    assert record.levelno == logging.DEBUG


async def test_cancel_requested_sees_a_cancellation_that_was_swallowed() -> None:
    seen: list[bool] = []

    async def swallowing() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # what a client library may do inside a timeout
            await asyncio.sleep(3600)
        seen.append(cancel_requested())

    task = asyncio.create_task(swallowing())
    await asyncio.sleep(0)
    assert not cancel_requested()
    task.cancel()
    await task
    assert seen == [True]


async def test_the_platform_closes_shared_services_last_in_reverse_order() -> None:
    app = create_app({}, load_entry_points=False)
    await app.start()
    order: list[str] = []
    tasks_running_at_close: list[int] = []

    def closer(name: str):
        async def close() -> None:
            order.append(name)
            tasks_running_at_close.append(len(app.platform.tasks))

        return close

    app.platform.close_last(closer("connection"))
    app.platform.close_last(closer("sentinel"))
    await app.stop()
    assert order == ["sentinel", "connection"]
    assert tasks_running_at_close == [0, 0]


#: Files allowed to start tasks without ``platform.tasks``, and why.
UNOWNED_TASKS_ALLOWED = {
    # The owner itself.
    "kernel/src/sheepfold/tasks.py",
    # The test kit's uvicorn server: it runs the app's lifespan (the platform's start and stop), so it cannot be
    # one of the platform's tasks; the context manager that starts it awaits it on exit.
    "kernel/src/sheepfold/testing/served.py",
    # A connect attempt shared by the callers waiting on it, cancelled by the connection's close.
    "plugin-redis/src/sheepfold_redis/multiplex.py",
}


def test_nothing_in_the_kernel_or_a_plugin_starts_a_task_the_platform_does_not_own() -> None:
    root = Path(__file__).resolve().parents[2]
    bare = re.compile(r"\b(create_task|ensure_future)\(")
    found = []
    for source in sorted(root.glob("**/src/**/*.py")):
        relative = source.relative_to(root).as_posix()
        if ".venv" in source.parts or relative in UNOWNED_TASKS_ALLOWED:
            continue
        for number, line in enumerate(source.read_text().splitlines(), 1):
            if bare.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == [], "start these with platform.tasks.spawn(...):\n" + "\n".join(found)
