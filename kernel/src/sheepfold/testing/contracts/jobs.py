"""The job-queue port's contract, for every adapter of it, each with its workers running."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sized
from datetime import UTC, datetime, timedelta

import pytest

from sheepfold.jobs import JobArgumentsError, JobResult, Jobs, JobStatus, Priority, UnknownJobFunction, UnknownJobQueue
from sheepfold.testing.contracts.job_functions import FIXED, GATES, ORDER, RUNS, SERIAL_QUEUE, fresh_key


async def finished(jobs: Jobs, job_id: str, timeout: float = 10.0) -> JobResult:
    """Poll until the job has a result; the result."""
    async with asyncio.timeout(timeout):
        while (result := await jobs.result(job_id)) is None:  # noqa: ASYNC110 - the port offers no wait
            await asyncio.sleep(0.01)
    return result


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``condition()`` until it is true; TimeoutError after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 - the port offers no wait
            await asyncio.sleep(0.01)


async def _is(jobs: Jobs, job_id: str, status: JobStatus) -> bool:
    return await jobs.status(job_id) is status


async def _has(items: Sized, count: int) -> bool:
    return len(items) >= count


class JobsContract:
    """The ``Jobs`` port's contract: subclass it, with a ``jobs`` fixture yielding a fresh adapter.

    The fixture yields the adapter started and empty, and closes it afterwards.
    """

    async def test_a_job_runs_once_and_its_result_is_readable(self, jobs: Jobs) -> None:
        key = fresh_key()
        job_id = await jobs.enqueue("record", (key,), {"value": {"answer": 42}})
        result = await finished(jobs, job_id)
        assert result.success and result.value == {"answer": 42} and result.tries == 1
        assert result.function == "record" and result.error is None
        assert result.enqueued_at <= result.started_at <= result.finished_at
        assert await jobs.status(job_id) is JobStatus.COMPLETE
        assert RUNS[key] == [1]

    async def test_an_unknown_function_is_refused_at_enqueue(self, jobs: Jobs) -> None:
        with pytest.raises(UnknownJobFunction, match="no_such_function"):
            await jobs.enqueue("no_such_function")

    async def test_an_undeclared_queue_is_refused_at_enqueue(self, jobs: Jobs) -> None:
        with pytest.raises(UnknownJobQueue, match="nowhere"):
            await jobs.enqueue("record", (fresh_key(),), queue="nowhere")

    async def test_arguments_that_cannot_be_serialized_are_refused_at_enqueue(self, jobs: Jobs) -> None:
        key = fresh_key()
        with pytest.raises(JobArgumentsError, match="record"):
            await jobs.enqueue("record", (key,), {"value": threading.Lock()}, job_id=key)
        assert await jobs.status(key) is JobStatus.NOT_FOUND

    async def test_a_job_id_already_known_enqueues_nothing(self, jobs: Jobs) -> None:
        key = fresh_key()
        first = await jobs.enqueue("record", (key,), job_id=f"dedup-{key}")
        second = await jobs.enqueue("record", (key,), job_id=f"dedup-{key}")
        assert first == second == f"dedup-{key}"
        await finished(jobs, first)
        assert await jobs.enqueue("record", (key,), job_id=f"dedup-{key}") == first  # its result is still kept
        await asyncio.sleep(0.2)
        assert RUNS[key] == [1]

    async def test_a_delayed_job_waits_for_its_time(self, jobs: Jobs) -> None:
        key = fresh_key()
        enqueued = time.time()
        job_id = await jobs.enqueue("record", (key,), delay=0.5)
        assert await jobs.status(job_id) is JobStatus.DEFERRED
        result = await finished(jobs, job_id)
        assert result.started_at >= enqueued + 0.45

    async def test_run_at_defers_until_that_moment(self, jobs: Jobs) -> None:
        key = fresh_key()
        moment = datetime.now(UTC) + timedelta(seconds=0.4)
        job_id = await jobs.enqueue("record", (key,), run_at=moment)
        assert await jobs.status(job_id) is JobStatus.DEFERRED
        result = await finished(jobs, job_id)
        assert result.started_at >= moment.timestamp() - 0.05

    async def test_higher_priorities_run_first_within_a_queue(self, jobs: Jobs) -> None:
        key = fresh_key()
        gate = await jobs.enqueue("wait_for_gate", (key,))  # the serial queue runs one job at a time
        await until(lambda: _is(jobs, gate, JobStatus.IN_PROGRESS))
        for label, priority in [
            ("low", "low"),
            ("normal-1", Priority.NORMAL),
            ("high", Priority.HIGH),
            ("normal-2", 1),
        ]:
            await jobs.enqueue("record_order", (key, label), priority=priority)  # type: ignore[arg-type]  # an int too
        GATES[key].set()
        await until(lambda: _has(ORDER[key], 4))
        assert ORDER[key] == ["high", "normal-1", "normal-2", "low"], ORDER[key]

    async def test_a_failing_job_is_retried_with_backoff_until_it_succeeds(self, jobs: Jobs) -> None:
        key = fresh_key()
        job_id = await jobs.enqueue("flaky", (key, 2))
        result = await finished(jobs, job_id)
        assert result.success and result.value == "done" and result.tries == 3
        assert RUNS[key] == [1, 2, 3]

    async def test_after_its_last_try_a_job_joins_the_failed_list(self, jobs: Jobs) -> None:
        key = fresh_key()
        job_id = await jobs.enqueue("flaky", (key, 10))
        result = await finished(jobs, job_id)
        assert not result.success and "try 3 fails" in (result.error or "") and result.tries == 3
        assert await jobs.status(job_id) is JobStatus.FAILED
        failed = await jobs.failed_job(job_id)
        assert failed is not None and failed.function == "flaky" and failed.args == (key, 10)
        assert failed.tries == 3 and "RuntimeError" in failed.error
        assert job_id in [entry.job_id for entry in await jobs.failed_jobs()]

    async def test_do_not_retry_fails_at_once_and_a_failed_job_can_be_retried(self, jobs: Jobs) -> None:
        key = fresh_key()
        job_id = await jobs.enqueue("refuse", (key,), queue=SERIAL_QUEUE, priority="high")
        result = await finished(jobs, job_id)
        assert not result.success and result.tries == 1 and "the input is invalid" in (result.error or "")
        failed = await jobs.failed_job(job_id)
        assert failed is not None and failed.queue == SERIAL_QUEUE and failed.priority is Priority.HIGH
        FIXED.add(key)
        assert await jobs.retry_failed(job_id) is True
        await until(lambda: _is(jobs, job_id, JobStatus.COMPLETE))
        assert RUNS[key] == [1, 1]  # retried from try 1
        assert await jobs.failed_job(job_id) is None
        assert await jobs.retry_failed(job_id) is False

    async def test_a_discarded_failed_job_leaves_the_list_and_never_runs_again(self, jobs: Jobs) -> None:
        key = fresh_key()
        job_id = await jobs.enqueue("refuse", (key,))
        await finished(jobs, job_id)
        assert await jobs.failed_job(job_id) is not None
        assert await jobs.discard_failed(job_id) is True
        assert await jobs.failed_job(job_id) is None
        assert job_id not in [entry.job_id for entry in await jobs.failed_jobs()]
        assert await jobs.retry_failed(job_id) is False
        assert await jobs.discard_failed(job_id) is False
        await asyncio.sleep(0.2)
        assert RUNS[key] == [1]
        assert await jobs.status(job_id) in {JobStatus.FAILED, JobStatus.NOT_FOUND}

    async def test_discarding_a_job_not_in_the_failed_list_is_false(self, jobs: Jobs) -> None:
        assert await jobs.discard_failed("never-failed") is False

    async def test_a_try_longer_than_the_timeout_fails(self, jobs: Jobs) -> None:
        key = fresh_key()
        job_id = await jobs.enqueue("sleep_for", (key, 5.0))
        result = await finished(jobs, job_id)
        assert not result.success and "TimeoutError" in (result.error or "")

    async def test_an_aborted_waiting_job_never_runs(self, jobs: Jobs) -> None:
        key = fresh_key()
        job_id = await jobs.enqueue("record", (key,), delay=0.3)
        assert await jobs.abort(job_id) is True
        await asyncio.sleep(0.6)
        assert RUNS[key] == []
        assert await jobs.status(job_id) in {JobStatus.FAILED, JobStatus.NOT_FOUND}

    async def test_an_aborted_running_job_is_cancelled(self, jobs: Jobs) -> None:
        key = fresh_key()
        job_id = await jobs.enqueue("wait_for_gate", (key,))
        await until(lambda: _has(RUNS[key], 1))  # the function itself runs, not only its claim
        assert await jobs.status(job_id) is JobStatus.IN_PROGRESS
        assert await jobs.abort(job_id) is True
        await until(lambda: _is(jobs, job_id, JobStatus.FAILED))
        assert RUNS[key] == [1]
        assert await jobs.failed_job(job_id) is None  # stopped on purpose: not in the failed list

    async def test_abort_of_an_unknown_job_is_false(self, jobs: Jobs) -> None:
        assert await jobs.abort("never-enqueued") is False

    async def test_statistics_count_by_queue_and_priority(self, jobs: Jobs) -> None:
        key = fresh_key()
        done = [await jobs.enqueue("record", (key,), priority="low") for _ in range(3)]
        failed = await jobs.enqueue("refuse", (key,), priority="low")
        delayed = await jobs.enqueue("record", (key,), delay=30, priority="high")
        for job_id in [*done, failed]:
            await finished(jobs, job_id)
        stats = (await jobs.statistics()).queues["default"]
        assert stats["low"].completed == 3 and stats["low"].failed == 1
        p50, p95 = stats["low"].queue_time_p50, stats["low"].queue_time_p95
        assert p50 is not None and p95 is not None and p95 >= p50
        assert stats["high"].delayed == 1 and stats["high"].waiting == 0
        assert set(stats) == {"high", "normal", "low"}
        await jobs.abort(delayed)

    async def test_statistics_of_one_queue_count_that_queue_alone(self, jobs: Jobs) -> None:
        key = fresh_key()
        ordered = await jobs.enqueue("record_order", (key, "a"), priority="high")  # on the serial queue
        await finished(jobs, ordered)
        delayed = await jobs.enqueue("record_order", (key, "b"), delay=30)
        elsewhere = await jobs.enqueue("record", (key,), delay=30)  # on the default queue
        stats = await jobs.statistics(queue=SERIAL_QUEUE)
        assert list(stats.queues) == [SERIAL_QUEUE]
        serial = stats.queues[SERIAL_QUEUE]
        assert serial["high"].completed == 1 and serial["normal"].delayed == 1
        assert set(serial) == {"high", "normal", "low"}
        everything = await jobs.statistics()
        assert everything.queues[SERIAL_QUEUE] == serial
        assert everything.queues["default"]["normal"].delayed == 1
        await jobs.abort(delayed)
        await jobs.abort(elsewhere)

    async def test_statistics_of_an_unknown_queue_is_refused(self, jobs: Jobs) -> None:
        with pytest.raises(UnknownJobQueue):
            await jobs.statistics(queue="nowhere")

    async def test_ping_succeeds_when_the_backend_serves(self, jobs: Jobs) -> None:
        await jobs.ping()
