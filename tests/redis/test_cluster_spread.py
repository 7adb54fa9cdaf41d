"""On a Redis Cluster, sessions, rate limits and cache entries spread over every primary.

A real cluster of three masters, each with a replica (``redis_cluster``),
takes 10,000 sessions (of 1,000 users), 10,000 rate-limited clients and
10,000 cache entries (under 100 tags); each master must then hold between
25 % and 42 % of each kind, counted on the masters themselves with SCAN.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable

import pytest
from redis.asyncio import Redis

from sheepfold.ratelimit import RateLimitPolicy, RateLimitWindow
from sheepfold.sessions import SessionRecord
from sheepfold_redis import RedisCache, RedisConnection, RedisSettings
from sheepfold_redis.ratelimit import RedisRateLimiter
from sheepfold_redis.sessions import RedisSessionRecords
from tests.support.redis_adapters import fresh_prefix, remove_namespace

pytestmark = pytest.mark.redis

EACH = 10_000
POLICY = RateLimitPolicy("api", (RateLimitWindow(100, 60),))


@pytest.fixture
async def connection(redis_cluster_nodes):
    nodes = tuple((host, int(port)) for host, _, port in (node.rpartition(":") for node in redis_cluster_nodes))
    conn = RedisConnection(
        RedisSettings(cluster_nodes=nodes, prefix=fresh_prefix(), command_timeout=5.0, pool_timeout=5.0)
    )
    yield conn
    await remove_namespace(conn)
    await conn.close()


async def in_batches(calls: Iterable[Callable[[], Awaitable[object]]], size: int = 200) -> None:
    batch: list[Callable[[], Awaitable[object]]] = []
    for call in [*calls, None]:
        if call is not None:
            batch.append(call)
        if len(batch) == size or (call is None and batch):
            await asyncio.gather(*(make() for make in batch))
            batch = []


async def count_on(node: str, pattern: str) -> int:
    host, _, port = node.rpartition(":")
    async with Redis(host=host, port=int(port)) as client:
        return sum([1 async for _ in client.scan_iter(match=pattern, count=1000)])


async def test_each_master_holds_a_fair_share_of_every_kind(connection, redis_cluster):
    sessions, limiter, cache = RedisSessionRecords(connection), RedisRateLimiter(connection), RedisCache(connection)
    now = time.time()
    await in_batches(
        lambda number=number: sessions.create(
            secrets.token_urlsafe(24), SessionRecord(b"{}", f"user-{number % 1000}", 600.0, now + 3600, now)
        )
        for number in range(EACH)
    )
    await in_batches(lambda number=number: limiter.hit(f"client-{number}", POLICY) for number in range(EACH))
    await in_batches(
        lambda number=number: cache.set(f"page-{number}", b"x", ttl=600, tags=[f"tag-{number % 100}"])
        for number in range(EACH)
    )
    masters = [f"127.0.0.1:{port}" for port in redis_cluster.primaries()]
    assert len(masters) == 3
    namespace = connection.namespace
    kinds = {
        "session": f"{namespace}{{*}}:session",
        "limit": f"{namespace}{{*}}:rl:*",
        "cache": f"{namespace}{{*}}:cache",
    }
    shares: dict[str, list[float]] = {}
    for kind, pattern in kinds.items():
        counts = [await count_on(master, pattern) for master in masters]
        assert sum(counts) == EACH, (kind, counts)
        shares[kind] = [count / EACH for count in counts]
    print("share of each master:", {kind: [f"{share:.1%}" for share in values] for kind, values in shares.items()})
    for kind, values in shares.items():
        assert all(0.25 <= share <= 0.42 for share in values), (kind, values)
