"""The kernel's in-process job runner: the hook, eager mode, bounds, and its place in an app."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from sheepfold import PluginError, create_app
from sheepfold.jobs import (
    DoNotRetry,
    JobDefinition,
    JobQueueFull,
    Jobs,
    JobStatus,
    RetryPolicy,
    UnknownJobFunction,
    job,
)
from sheepfold.jobs.memory import MemoryJobs
from tests.support.job_functions import RUNS, SERIAL_QUEUE, fresh_key, record, registry_for_tests


async def double(ctx, number: int) -> int:
    return number * 2


@job(queue="maths", timeout=5, max_tries=2)
async def halve(ctx, number: int) -> float:
    return number / 2


def jobs_plugin(*offered):
    return SimpleNamespace(name="jobs_for_tests", sheepfold_jobs=lambda: list(offered))


async def test_hook_jobs_registers_definitions_and_bare_functions_enqueued_by_name():
    app = create_app({"jobs": {"queues": {"maths": {"concurrency": 2}}}}, plugins=[jobs_plugin(double, halve)],
                     load_entry_points=False)  # fmt: skip
    await app.start()
    try:
        jobs = app.platform.require(Jobs)
        first = await jobs.enqueue("double", (21,))
        second = await jobs.enqueue("halve", (9,))
        async with asyncio.timeout(5):
            while (await jobs.status(first), await jobs.status(second)) != (JobStatus.COMPLETE,) * 2:
                await asyncio.sleep(0.01)
        assert (await jobs.result(first)).value == 42
        assert (await jobs.result(second)).value == 4.5
        assert "maths" in (await jobs.statistics()).queues
    finally:
        await app.stop()


def test_hook_jobs_refuses_two_functions_with_one_name():
    with pytest.raises(PluginError, match="double"):
        create_app({}, plugins=[jobs_plugin(double, JobDefinition(halve.function, name="double"))],
                   load_entry_points=False)  # fmt: skip


def test_hook_jobs_refuses_what_is_not_a_job_function():
    with pytest.raises(PluginError, match="jobs_for_tests"):
        create_app({}, plugins=[jobs_plugin("not a function")], load_entry_points=False)


async def test_eager_mode_runs_the_job_at_once_and_raises_its_error():
    jobs = MemoryJobs(registry_for_tests(), eager=True)
    await jobs.start()
    try:
        key = fresh_key()
        job_id = await jobs.enqueue("record", (key, "now"))
        assert RUNS[key] == [1] and (await jobs.result(job_id)).value == "now"
        with pytest.raises(DoNotRetry, match="invalid"):
            await jobs.enqueue("refuse", (key,))
        with pytest.raises(RuntimeError, match="try 1 fails"):
            await jobs.enqueue("flaky", (key, 5))  # one try only: the error reaches the test
    finally:
        await jobs.close()


async def test_the_runner_refuses_jobs_beyond_its_bound_rather_than_grow():
    jobs = MemoryJobs(registry_for_tests(), max_entries=3)
    await jobs.start()
    try:
        for _ in range(3):
            await jobs.enqueue("record", (fresh_key(),), delay=30)
        with pytest.raises(JobQueueFull, match=r"jobs\.max_entries"):
            await jobs.enqueue("record", (fresh_key(),))
    finally:
        await jobs.close()


async def test_the_failed_list_keeps_only_the_most_recent():
    jobs = MemoryJobs(registry_for_tests(), failed_max=2, eager=True)
    await jobs.start()
    try:
        ids = []
        for _ in range(3):
            key = fresh_key()
            with pytest.raises(DoNotRetry):
                await jobs.enqueue("refuse", (key,), job_id=key)
            ids.append(key)
        assert [failed.job_id for failed in await jobs.failed_jobs()] == [ids[2], ids[1]]
    finally:
        await jobs.close()


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy(base=1, factor=2, max_delay=10, jitter=0.5)
    assert [policy.delay(n, rand=lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 10]
    assert policy.delay(3, rand=lambda: 1.0) == 2  # at most `jitter` of the delay is taken off
    definition = JobDefinition(record, max_tries=3, retry=policy)
    assert definition.retry_delay(3, RuntimeError()) is None
    assert definition.retry_delay(1, DoNotRetry()) is None
    assert definition.retry_delay(1, RuntimeError()) is not None


async def test_a_function_may_be_enqueued_on_any_declared_queue():
    jobs = MemoryJobs(registry_for_tests())
    await jobs.start()
    try:
        key = fresh_key()
        job_id = await jobs.enqueue("record", (key,), queue=SERIAL_QUEUE)
        async with asyncio.timeout(5):
            while await jobs.status(job_id) is not JobStatus.COMPLETE:
                await asyncio.sleep(0.01)
        with pytest.raises(UnknownJobFunction):
            await jobs.enqueue("missing")
    finally:
        await jobs.close()
