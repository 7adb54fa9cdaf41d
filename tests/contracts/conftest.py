from __future__ import annotations

import pytest

from tests.contracts.adapters import (
    CACHE_ADAPTERS,
    JOBS_ADAPTERS,
    PUBSUB_ADAPTERS,
    RATELIMIT_ADAPTERS,
    SESSION_RECORDS_ADAPTERS,
    STATE_ADAPTERS,
)
from tests.support.redis_server import redis_cluster, redis_cluster_nodes  # noqa: F401 - a fixture the Redis Cluster entries use


@pytest.fixture(params=sorted(STATE_ADAPTERS))
async def state(request):
    async with STATE_ADAPTERS[request.param](request) as adapter:
        yield adapter


@pytest.fixture(params=sorted(CACHE_ADAPTERS))
async def cache(request):
    async with CACHE_ADAPTERS[request.param](request) as adapter:
        yield adapter


@pytest.fixture(params=sorted(RATELIMIT_ADAPTERS))
async def ratelimit(request):
    async with RATELIMIT_ADAPTERS[request.param](request) as adapter:
        yield adapter


@pytest.fixture(params=sorted(SESSION_RECORDS_ADAPTERS))
async def session_records(request):
    async with SESSION_RECORDS_ADAPTERS[request.param](request) as adapter:
        yield adapter


@pytest.fixture(params=sorted(JOBS_ADAPTERS))
async def jobs(request):
    async with JOBS_ADAPTERS[request.param](request) as adapter:
        yield adapter


@pytest.fixture(params=sorted(PUBSUB_ADAPTERS))
async def pubsub(request):
    async with PUBSUB_ADAPTERS[request.param](request) as adapter:
        yield adapter
