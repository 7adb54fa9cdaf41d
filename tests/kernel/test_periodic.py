"""PeriodicTask: rounds on an interval, surviving a failing round, stopping cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sheepfold.periodic import PeriodicTask
from sheepfold.tasks import BackgroundTasks

logger = logging.getLogger("tests.periodic")


async def test_rounds_run_on_the_interval_and_a_failing_round_does_not_stop_them(caplog):
    rounds = []

    async def action():
        rounds.append(len(rounds))
        if len(rounds) == 2:
            raise RuntimeError("one bad round")

    task = PeriodicTask(action, 0.01, name="test-rounds", logger=logger)
    task.start(BackgroundTasks())
    task.start(BackgroundTasks())  # idempotent while running
    async with asyncio.timeout(2):
        while len(rounds) < 4:
            await asyncio.sleep(0.01)
    await task.stop()
    assert not task.running
    assert "test-rounds: a round failed" in caplog.text
    count = len(rounds)
    await asyncio.sleep(0.05)
    assert len(rounds) == count  # stopped means stopped


async def test_stop_without_start_is_harmless():
    await PeriodicTask(lambda: None, 1, name="idle", logger=logger).stop()


async def test_immediately_runs_the_first_round_at_start_and_failures_log_at_their_level(caplog):
    rounds = []

    def action():
        rounds.append(len(rounds))
        raise ConnectionError("backend down")

    task = PeriodicTask(action, 60, name="test-eager", logger=logger, immediately=True, failure_level=logging.DEBUG)
    with caplog.at_level(logging.DEBUG, logger="tests.periodic"):
        task.start(BackgroundTasks())
        async with asyncio.timeout(2):
            while not rounds:
                await asyncio.sleep(0.01)
        await task.stop()
    assert rounds == [0]  # at once, not after the 60 s interval
    (record,) = [r for r in caplog.records if r.name == "tests.periodic"]
    assert record.levelno == logging.DEBUG
    assert record.exc_info is not None


async def test_a_round_that_swallows_the_cancellation_still_ends_the_task():
    entered = asyncio.Event()

    async def swallowing_round():
        entered.set()
        with contextlib.suppress(asyncio.CancelledError):  # as redis-py can, inside one of its timeouts
            await asyncio.sleep(3600)

    task = PeriodicTask(swallowing_round, 60, name="swallowing", logger=logger, immediately=True)
    task.start(BackgroundTasks())
    await entered.wait()
    async with asyncio.timeout(2):
        await task.stop()
    assert not task.running
