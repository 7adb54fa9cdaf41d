"""The Redis rate limiter on the machine's Redis: one round trip per hit, Redis's clock, one hash tag per client."""

from __future__ import annotations

import pytest

from sheepfold.ratelimit import PenaltyPolicy, RateLimitPolicy, RateLimitWindow
from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis.ratelimit import RedisRateLimiter
from tests.support.redis_adapters import fresh_prefix, remove_namespace

pytestmark = pytest.mark.redis

POLICY = RateLimitPolicy(
    "login", (RateLimitWindow(3, 60), RateLimitWindow(10, 3600)), PenaltyPolicy(base=30, forget_after=600)
)


@pytest.fixture
async def limiter(redis_url):
    connection = RedisConnection(RedisSettings(url=redis_url, prefix=fresh_prefix()))
    try:
        yield RedisRateLimiter(connection)
    finally:
        await remove_namespace(connection)
        await connection.close()


async def test_every_hit_is_one_command_to_redis(limiter, monkeypatch):
    await limiter.hit("ip:192.0.2.1", POLICY)  # loads the script
    sent: list[object] = []
    connection = limiter.connection
    # Both ways a command can leave: the shared (multiplexed) connection and redis-py's pool.
    for owner, name in ((connection, "execute"), (connection.client, "execute_command")):
        original = getattr(owner, name)

        async def counting(*args, _original=original, **kwargs):
            sent.append(args[0])
            return await _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counting)
    for _ in range(5):  # admitted, refused with a penalty, refused while blocked
        await limiter.hit("ip:192.0.2.1", POLICY)
    assert sent == ["EVALSHA"] * 5


async def test_hits_are_timed_by_redis_and_all_keys_of_a_client_share_one_hash_tag(limiter):
    await limiter.hit("ip:192.0.2.1", POLICY)
    await limiter.hit("ip:192.0.2.1", POLICY, cost=5)  # refused: a breach, so the penalty hash exists too
    names = limiter.keys("ip:192.0.2.1", POLICY)
    assert len(names) == 3
    assert {name.split("{", 1)[1].split("}", 1)[0] for name in names} == {"login:ip:192.0.2.1"}
    client = limiter.connection.client
    seconds, microseconds = await client.time()
    [(_member, score)] = await client.zrange(names[1], 0, -1, withscores=True)
    assert abs(score - (seconds * 1_000_000 + microseconds)) < 5_000_000
    assert await client.hget(names[0], "n") == b"1"
    assert 0 < await client.pttl(names[0]) <= (30 + 600) * 1000


async def test_braces_in_a_client_key_cannot_move_its_slot(limiter):
    names = limiter.keys("api:{evil}", POLICY)
    assert all(name.count("{") == 1 and name.count("}") == 1 for name in names)
    assert (await limiter.hit("api:{evil}", POLICY)).allowed
