"""Under a backlog of 10,000 normal jobs, high-priority jobs are picked up ahead of it.

The house rule forbids asserting a speed, so this test asserts the order:
each high-priority job starts after at most a few normal jobs that were
already waiting (those in flight or claimed in the same step), never after
the backlog. ``benchmarks/jobs.py`` measures the queue time p95 itself.
"""

from __future__ import annotations

import asyncio

from sheepfold.jobs import Jobs
from sheepfold_jobs import WorkerPool
from tests.jobs.conftest import arq_settings, running_app
from tests.support.job_functions import ORDER, RUNS, fresh_key
from tests.support.redis_server import RedisServer

BACKLOG = 10_000
CONCURRENCY = 10


async def test_high_priority_jobs_overtake_a_backlog_of_ten_thousand():
    # A Redis of its own: the backlog's 10,000 arq job keys go with it.
    with RedisServer() as server:
        await _overtake(arq_settings(server.url, jobs={"worker": {"embedded": False}}))


async def _overtake(settings: dict) -> None:
    async with running_app(settings) as app:
        jobs = app.platform.require(Jobs)
        backlog, high = fresh_key(), fresh_key()
        for start in range(0, BACKLOG, 500):
            await asyncio.gather(*(jobs.enqueue("record", (backlog,)) for _ in range(start, start + 500)))
        pool = WorkerPool(jobs.backend, ["default"], idle_poll=0.2)
        pool.start()
        try:
            progress_at_enqueue = []
            for _ in range(20):
                await asyncio.sleep(0.02)
                progress_at_enqueue.append(len(RUNS[backlog]))
                await jobs.enqueue("note_progress", (high, backlog), priority="high")
            async with asyncio.timeout(60):
                while len(ORDER[high]) < 20:
                    await asyncio.sleep(0.01)
            progress_at_start = [int(progress) for progress in ORDER[high]]
            overtaken_by = [
                start - enqueued for start, enqueued in zip(progress_at_start, progress_at_enqueue, strict=True)
            ]
            assert max(overtaken_by) <= 4 * CONCURRENCY, overtaken_by
            assert progress_at_start[-1] < BACKLOG / 2  # the backlog was still there when the last one ran
            stats = (await jobs.statistics()).queues["default"]["high"]
            print(
                f"high-priority queue time under a {BACKLOG} backlog: "
                f"p50 {stats.queue_time_p50}s p95 {stats.queue_time_p95}s"
            )
        finally:
            await pool.stop()
