"""An idle worker starts a job as it is enqueued, woken by pub/sub, on one server and on a Redis Cluster.

The workers poll only every 60 s here, so a job started within the test's
bound can only have been started by a wake-up: on a Cluster the enqueue
script's PUBLISH is relayed by the cluster bus to the node the workers
subscribed on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sheepfold_jobs import ArqJobs, WorkerPool
from sheepfold_redis import RedisConnection, RedisSettings
from tests.support.job_functions import RUNS, fresh_key, registry_for_tests
from tests.support.redis_adapters import fresh_prefix, remove_namespace
from tests.support.redis_server import redis_cluster, redis_cluster_nodes  # noqa: F401 - fixtures

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
