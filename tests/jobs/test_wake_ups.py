"""An idle worker starts a job as it is enqueued, woken by pub/sub, on one server and on a Redis Cluster.

The workers poll only every 60 s here, so a job started within the test's
bound can only have been started by a wake-up: on a Cluster the enqueue
script's PUBLISH is relayed by the cluster bus to the node the workers
subscribed on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from sheepfold_jobs import ArqJobs, WorkerPool
from sheepfold_redis import RedisConnection, RedisSettings
from tests.support.job_functions import RUNS, fresh_key, registry_for_tests
from tests.support.redis_adapters import fresh_prefix, remove_namespace
from tests.support.redis_server import RedisServer, redis_cluster, redis_cluster_nodes  # noqa: F401 - fixtures

pytestmark = pytest.mark.redis


@pytest.fixture(params=["redis", "redis-cluster"])
async def connection(request) -> AsyncIterator[RedisConnection]:
    if request.param == "redis":
        settings = RedisSettings(url=request.getfixturevalue("redis_url"), prefix=fresh_prefix(), command_timeout=2.0)
    else:
        nodes = request.getfixturevalue("redis_cluster_nodes")
        settings = RedisSettings(
            cluster_nodes=tuple((host, int(port)) for host, _, port in (node.rpartition(":") for node in nodes)),
            prefix=fresh_prefix(),
            command_timeout=2.0,
            pool_timeout=2.0,
        )
    conn = RedisConnection(settings)
    yield conn
    await remove_namespace(conn)
    await conn.close()


async def test_an_idle_worker_is_woken_by_the_enqueue(connection):
    jobs = ArqJobs(connection, registry_for_tests())
    pool = WorkerPool(jobs, ["default"], idle_poll=60.0, crash_margin=1.0, shutdown_grace=1.0)
    pool.start()
    try:
        idle = jobs.keys("default").idle
        async with asyncio.timeout(10):  # the worker claimed nothing and went to sleep, flag set
            while not await connection.client.exists(idle):
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # and it subscribed (it wakes itself once after subscribing)
        key = fresh_key()
        job_id = await jobs.enqueue("record", (key,), {"value": 1})
        async with asyncio.timeout(20):  # far less than the 60 s poll
            while await jobs.result(job_id) is None:
                await asyncio.sleep(0.02)
        assert RUNS[key] == [1]
    finally:
        await pool.stop()


async def test_a_redis_outage_is_one_warning_from_the_wake_up_subscription_and_one_line_when_it_is_back(caplog):
    caplog.set_level(logging.DEBUG, logger="sheepfold.jobs.worker")

    def wake_up_lines(level: int) -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.levelno == level and r.getMessage().startswith("job wake-up")]

    async def until(condition) -> None:
        async with asyncio.timeout(20):
            while not condition():
                await asyncio.sleep(0.05)

    with RedisServer() as server:
        connection = RedisConnection(RedisSettings(url=server.url, prefix=fresh_prefix()))
        jobs = ArqJobs(connection, registry_for_tests())
        pool = WorkerPool(jobs, ["default"], idle_poll=60.0, crash_margin=1.0, shutdown_grace=1.0)
        wake = jobs.keys("default").wake
        pool.start()
        try:
            async with asyncio.timeout(10):
                while (await connection.client.pubsub_numsub(wake))[0][1] != 1:
                    await asyncio.sleep(0.02)

            server.kill()
            # A subscription retried every second: by its third failed attempt it has logged one warning.
            await until(lambda: any("attempt 3 failed" in r.getMessage() for r in wake_up_lines(logging.DEBUG)))
            [warning] = wake_up_lines(logging.WARNING)
            assert "Redis is unavailable" in warning.getMessage() and warning.exc_info is None
            assert all(record.exc_info is not None for record in wake_up_lines(logging.DEBUG))

            server.start()
            await until(lambda: wake_up_lines(logging.INFO))
            [back] = wake_up_lines(logging.INFO)
            assert "answers again" in back.getMessage()
            assert len(wake_up_lines(logging.WARNING)) == 1
            key = fresh_key()  # and it wakes the worker again: a job starts long before the 60 s poll
            job_id = await jobs.enqueue("record", (key,), {"value": 1})
            async with asyncio.timeout(20):
                while await jobs.result(job_id) is None:
                    await asyncio.sleep(0.02)
            assert RUNS[key] == [1]
        finally:
            await pool.stop()
            await connection.close()
