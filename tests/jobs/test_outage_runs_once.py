"""Jobs across a Redis outage: ends recorded when it returns, urgent jobs run meanwhile, nothing runs twice.

A redis-server of the test's own, killed and started again on the same port
(with an append-only file where the queue must survive its SIGKILL, as a
production Redis with persistence does).
"""

from __future__ import annotations

import asyncio
import time

from sheepfold.jobs import Jobs, JobStatus
from sheepfold_jobs.runner import WorkerPool
from tests.jobs.conftest import arq_settings, running_app
from tests.support.job_functions import GATES, QUEUE_TIMES, RUNS, fresh_key
from tests.support.redis_server import RedisServer

PERSISTENT = ["--appendonly", "yes", "--appendfsync", "always"]
#: hold_until_opened's timeout (2 s) + arq's margin (1 s) + crash_margin (1 s): its lease, and more.
LEASE = 4.0


async def test_jobs_that_finish_during_an_outage_are_recorded_when_redis_returns_and_never_run_twice():
    with RedisServer(extra=PERSISTENT) as server:
        async with running_app(arq_settings(server.url)) as app:
            jobs = app.platform.require(Jobs)
            worker = app.platform.require(WorkerPool).workers["default"]
            key = fresh_key()
            ids = [await jobs.enqueue("hold_until_opened", (key,)) for _ in range(3)]
            async with asyncio.timeout(10):
                while len(RUNS[key]) < 3:
                    await asyncio.sleep(0.02)

            server.kill()
            GATES[key].set()  # they finish now, while Redis is down
            async with asyncio.timeout(10):
                while len(worker.unrecorded) < 3:
                    await asyncio.sleep(0.02)

            server.start()
            async with asyncio.timeout(10):
                while worker.unrecorded or [await jobs.status(job_id) for job_id in ids] != [JobStatus.COMPLETE] * 3:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(LEASE)  # past every lease: a job whose end was lost would be claimed again
            assert RUNS[key] == [1, 1, 1]
            for job_id in ids:
                result = await jobs.result(job_id)
                assert result is not None and result.success and result.value == "opened"


async def test_high_priority_jobs_keep_queue_time_p95_under_5_s_across_a_10_s_outage_and_run_once():
    with RedisServer() as server:
        settings = arq_settings(server.url, jobs={"spool": {"run_priorities": ["high"]}})
        async with running_app(settings) as app:
            jobs = app.platform.require(Jobs)
            urgent, later = fresh_key(), fresh_key()
            server.kill()
            started = time.monotonic()
            enqueued = 0
            while time.monotonic() - started < 10:  # the outage: 10 s, one urgent job every 0.5 s
                await jobs.enqueue("record_queue_time", (urgent,), priority="high", job_id=f"{urgent}-{enqueued}")
                enqueued += 1
                if enqueued % 5 == 0:
                    await jobs.enqueue("record_queue_time", (later,), priority="low")
                await asyncio.sleep(0.5)
            assert not jobs.on_backend
            server.start()
            async with asyncio.timeout(20):
                while len(RUNS[later]) < enqueued // 5 or jobs.fallback.spooled:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # nothing runs twice once Redis is back
            assert RUNS[urgent] == [1] * enqueued
            assert RUNS[later] == [1] * (enqueued // 5)  # spooled, then run by the worker on Redis
            times = sorted(QUEUE_TIMES[urgent])
            assert times[int(0.95 * (len(times) - 1))] < 5.0
