"""Jobs that finish while Redis is down: their ends are recorded when it returns, and they never run again.

A redis-server of the test's own with an append-only file (so the queue
survives its SIGKILL, as a production Redis with persistence does), killed
while jobs run and started again on the same port and directory.
"""

from __future__ import annotations

import asyncio

from sheepfold.jobs import Jobs, JobStatus
from sheepfold_jobs.runner import WorkerPool
from tests.jobs.conftest import arq_settings, running_app
from tests.support.job_functions import GATES, RUNS, fresh_key
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
