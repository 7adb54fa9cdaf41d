"""Redis down: ``enqueue`` neither fails nor loses a job; the spool is handed to Redis when it returns.

A redis-server of the test's own, on a spare loopback port, killed and
started again on the same port.
"""

from __future__ import annotations

import asyncio

import pytest

from sheepfold.http.health import assess
from sheepfold.jobs import JobQueueFull, Jobs, JobStatus
from sheepfold_jobs import SpooledJobs
from tests.jobs.conftest import arq_settings, running_app
from tests.support.job_functions import RUNS, fresh_key
from tests.support.redis_server import RedisServer


async def test_jobs_enqueued_while_redis_is_down_are_spooled_then_run_once():
    with RedisServer() as server:
        async with running_app(arq_settings(server.url)) as app:
            jobs = app.platform.require(Jobs)
            key = fresh_key()
            before = await jobs.enqueue("record", (key, "before"))
            async with asyncio.timeout(10):
                while await jobs.status(before) is not JobStatus.COMPLETE:
                    await asyncio.sleep(0.02)

            server.kill()
            during = [await jobs.enqueue("record", (key, n), priority="high" if n % 2 else "low") for n in range(20)]
            assert not jobs.on_backend and isinstance(jobs.fallback, SpooledJobs)
            assert len(jobs.fallback.spooled) == 20
            assert await jobs.status(during[0]) is JobStatus.QUEUED
            _status, report = await assess(app.platform)
            assert report["components"]["jobs"] == {
                "status": "degraded",
                "required": False,
                "spooled": 20,
                "workers": ["default", "serial"],
            }

            server.start()
            async with asyncio.timeout(20):
                while len(RUNS[key]) < 21 or jobs.fallback.spooled:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # nothing runs twice
            assert RUNS[key] == [1] * 21
            for job_id in during:
                result = await jobs.result(job_id)
                assert result is not None and result.success
            assert sorted([(await jobs.result(job_id)).value for job_id in during]) == list(range(20))


async def test_the_spool_is_bounded_and_refuses_rather_than_drops():
    with RedisServer() as server:
        settings = arq_settings(server.url, jobs={"spool": {"max_entries": 3}})
        async with running_app(settings) as app:
            jobs = app.platform.require(Jobs)
            server.kill()
            for _ in range(3):
                await jobs.enqueue("record", (fresh_key(),))
            with pytest.raises(JobQueueFull, match=r"jobs\.spool\.max_entries"):
                await jobs.enqueue("record", (fresh_key(),))
            server.start()


async def test_with_the_memory_fallback_jobs_run_in_process_while_redis_is_down():
    with RedisServer() as server:
        async with running_app(arq_settings(server.url, jobs={"fallback": "memory"})) as app:
            jobs = app.platform.require(Jobs)
            server.kill()
            key = fresh_key()
            job_id = await jobs.enqueue("record", (key, "in-process"))
            async with asyncio.timeout(10):
                while await jobs.status(job_id) is not JobStatus.COMPLETE:
                    await asyncio.sleep(0.02)
            assert RUNS[key] == [1] and (await jobs.result(job_id)).value == "in-process"
