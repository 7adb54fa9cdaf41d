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
from sheepfold_redis.cache import RedisCache
from sheepfold_redis.pubsub import RedisPubSub
from sheepfold_redis.ratelimit import RedisRateLimiter
from sheepfold_redis.sessions import RedisSessionRecords
from sheepfold_redis.state import RedisState
from tests.support.database_adapters import on_postgresql, on_sqlite_file, on_sqlite_memory
from tests.support.job_adapters import ArqJobsWithWorkers
from tests.support.job_functions import registry_for_tests
from tests.support.redis_adapters import on_fakeredis, on_redis, on_redis_cluster

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


STATE_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemoryState(max_entries=1000)),
    "fakeredis": on_fakeredis(RedisState),
    "redis": on_redis(RedisState),
    "redis-cluster": on_redis_cluster(RedisState),
}

CACHE_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemoryCache(max_entries=1000)),
    "fakeredis": on_fakeredis(RedisCache),
    "redis": on_redis(RedisCache),
    "redis-cluster": on_redis_cluster(RedisCache),
}

RATELIMIT_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemoryRateLimiter(max_entries=1000)),
    "fakeredis": on_fakeredis(RedisRateLimiter),
    "redis": on_redis(RedisRateLimiter),
    "redis-cluster": on_redis_cluster(RedisRateLimiter),
}

SESSION_RECORDS_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemorySessionRecords(max_entries=1000)),
    "fakeredis": on_fakeredis(RedisSessionRecords),
    "redis": on_redis(RedisSessionRecords),
    "redis-cluster": on_redis_cluster(RedisSessionRecords),
}

JOBS_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemoryJobs(registry_for_tests(), max_entries=1000)),
    "fakeredis": on_fakeredis(ArqJobsWithWorkers),
    "redis": on_redis(ArqJobsWithWorkers),
}

PUBSUB_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemoryPubSub(max_channels=1000)),
    "fakeredis": on_fakeredis(RedisPubSub),
    "redis": on_redis(RedisPubSub),
}

DATABASE_ADAPTERS: dict[str, AdapterContext] = {
    "sqlite-memory": on_sqlite_memory,
    "sqlite-file": on_sqlite_file,
    "postgresql": on_postgresql,
}
