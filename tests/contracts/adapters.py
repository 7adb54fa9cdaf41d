"""Every adapter of every port that the contract suites run against.

Adding an adapter to a port's contract suite is one entry here: a name and an
async context manager that yields a fresh, started, empty adapter. It receives
pytest's ``request`` so it can ask for fixtures (``redis_url``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from sheepfold.cache.memory import MemoryCache
from sheepfold.jobs.memory import MemoryJobs
from sheepfold.pubsub.memory import MemoryPubSub
from sheepfold.ratelimit.memory import MemoryRateLimiter
from sheepfold.sessions.memory import MemorySessionRecords
from sheepfold.state.memory import MemoryState
from sheepfold.testing.contracts import contract_job_registry as registry_for_tests
from tests.support.plugins import installed

AdapterContext = Callable[[pytest.FixtureRequest], contextlib.AbstractAsyncContextManager[Any]]


def started(make: Callable[[], Any]) -> AdapterContext:
    @contextlib.asynccontextmanager
    async def context(_request: pytest.FixtureRequest) -> AsyncIterator[Any]:
        adapter = make()
        await adapter.start()
        try:
            yield adapter
        finally:
            await adapter.close()

    return context


# The kernel's memory adapters run everywhere; a plugin's adapters where the plugin is installed (all of them
# in the workspace; `.ci/isolated` installs one plugin at a time).
STATE_ADAPTERS: dict[str, AdapterContext] = {"memory": started(lambda: MemoryState(max_entries=1000))}
CACHE_ADAPTERS: dict[str, AdapterContext] = {"memory": started(lambda: MemoryCache(max_entries=1000))}
RATELIMIT_ADAPTERS: dict[str, AdapterContext] = {"memory": started(lambda: MemoryRateLimiter(max_entries=1000))}
SESSION_RECORDS_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemorySessionRecords(max_entries=1000))
}
JOBS_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemoryJobs(registry_for_tests(), max_entries=1000))
}
PUBSUB_ADAPTERS: dict[str, AdapterContext] = {"memory": started(lambda: MemoryPubSub(max_channels=1000))}
DATABASE_ADAPTERS: dict[str, AdapterContext] = {}

if installed("sheepfold_redis"):
    from sheepfold_redis.cache import RedisCache
    from sheepfold_redis.pubsub import RedisPubSub
    from sheepfold_redis.ratelimit import RedisRateLimiter
    from sheepfold_redis.sessions import RedisSessionRecords
    from sheepfold_redis.sharded_pubsub import ShardedRedisPubSub
    from sheepfold_redis.state import RedisState
    from tests.support.redis_adapters import on_fakeredis, on_redis, on_redis_cluster

    for adapters, adapter, on_cluster_too in (
        (STATE_ADAPTERS, RedisState, True),
        (CACHE_ADAPTERS, RedisCache, True),
        (RATELIMIT_ADAPTERS, RedisRateLimiter, True),
        (SESSION_RECORDS_ADAPTERS, RedisSessionRecords, True),
        (PUBSUB_ADAPTERS, RedisPubSub, False),
    ):
        adapters["fakeredis"] = on_fakeredis(adapter)
        adapters["redis"] = on_redis(adapter)
        if on_cluster_too:
            adapters["redis-cluster"] = on_redis_cluster(adapter)
    # Each session write followed by WAIT for the shard's replica, in the same round trip.
    SESSION_RECORDS_ADAPTERS["redis-cluster-wait"] = on_redis_cluster(
        RedisSessionRecords, session_wait_replicas=1, session_wait_timeout=1.0
    )
    # On a cluster, pub/sub is sharded (SSUBSCRIBE/SPUBLISH): an adapter of its own, the same contract.
    PUBSUB_ADAPTERS["redis-cluster"] = on_redis_cluster(ShardedRedisPubSub)

if installed("sheepfold_jobs"):
    from tests.support.job_adapters import ArqJobsWithWorkers
    from tests.support.redis_adapters import on_fakeredis, on_redis, on_redis_cluster

    JOBS_ADAPTERS["fakeredis"] = on_fakeredis(ArqJobsWithWorkers)
    JOBS_ADAPTERS["redis"] = on_redis(ArqJobsWithWorkers)
    JOBS_ADAPTERS["redis-cluster"] = on_redis_cluster(ArqJobsWithWorkers)

if installed("sheepfold_database"):
    from tests.support.database_adapters import on_postgresql, on_sqlite_file, on_sqlite_memory

    DATABASE_ADAPTERS["sqlite-memory"] = on_sqlite_memory
    DATABASE_ADAPTERS["sqlite-file"] = on_sqlite_file
    DATABASE_ADAPTERS["postgresql"] = on_postgresql
