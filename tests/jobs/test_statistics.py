"""The jobs console figures from one statistics reading, on the memory runner and on arq with Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from sheepfold import PlatformApplication, create_app
from sheepfold.jobs import Jobs, JobStatus
from sheepfold.statistics import gather_statistics
from tests.jobs.conftest import arq_settings, running_app, test_functions
from tests.support.job_functions import fresh_key


@contextlib.asynccontextmanager
async def memory_app() -> AsyncIterator[PlatformApplication]:
    app = create_app({}, plugins=[test_functions], load_entry_points=False)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture(params=["memory", pytest.param("arq", marks=pytest.mark.redis)])
async def app(request):
    if request.param == "memory":
        async with memory_app() as app:
            yield app
    else:
        async with running_app(arq_settings(request.getfixturevalue("redis_url"))) as app:
            assert app.platform.capabilities["jobs"].active_name == "arq"
            yield app


async def finished(jobs: Jobs, job_id: str, status: JobStatus) -> None:
    async with asyncio.timeout(10):
        while await jobs.status(job_id) is not status:
            await asyncio.sleep(0.02)


async def test_queues_are_reported_as_gauges_counters_and_a_table(app):
    jobs = app.platform.require(Jobs)
    await finished(jobs, await jobs.enqueue("record", (fresh_key(), "hi")), JobStatus.COMPLETE)
    await finished(jobs, await jobs.enqueue("refuse", (fresh_key(),)), JobStatus.FAILED)
    await jobs.enqueue("record", (fresh_key(), "later"), delay=600, priority="high")

    section = (await gather_statistics(app.platform))["jobs"]

    stats = (await jobs.statistics()).queues
    assert section["counters"]["completed.default"] == 1
    assert section["counters"]["failed.default"] == 1
    assert section["gauges"]["delayed.default"] == 1
    assert section["gauges"]["waiting.default"] == section["gauges"]["active.default"] == 0
    assert set(section["gauges"]) == {
        f"{state}.{queue}" for queue in stats for state in ("waiting", "delayed", "active")
    }
    rows = {(row["queue"], row["priority"]): row for row in section["tables"]["queues"]}
    assert set(rows) == {(queue, priority) for queue, by_priority in stats.items() for priority in by_priority}
    normal = rows[("default", "normal")]
    assert (normal["completed"], normal["failed"], normal["waiting"], normal["active"]) == (1, 1, 0, 0)
    assert normal["queue_time_p50"] is not None and normal["queue_time_p50"] >= 0
    assert rows[("default", "high")]["delayed"] == 1
