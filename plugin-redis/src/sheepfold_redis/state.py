"""The Redis adapter of the state port: one command (or one script) per call."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

from redis.asyncio import RedisCluster

from sheepfold_redis.connection import RedisConnection
from sheepfold_redis.failures import unavailable_on_failure

# INCRBY, and a TTL only when this call created the key (the port's rule).
_INCR_WITH_TTL = """
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
"""

# SET only when the value is ARGV[1] now (an absent key reads as false: never equal). ARGV[3]: TTL ms, 0 for none.
_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
"""

# Push, trim to ARGV[2] items and (ARGV[3] > 0) renew the TTL together: no reader sees the list over its cap.
_LIST_PUSH = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if ARGV[3] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return redis.call('LLEN', KEYS[1])
"""


def milliseconds(ttl: float) -> int:
    """A TTL in seconds as whole milliseconds, rounded up so a tiny TTL never means "no expiry"."""
    return max(1, math.ceil(ttl * 1000))


class RedisState:
    """:class:`~sheepfold.state.State` on Redis: each key is ``<namespace>state:<key>``, a string or a list.

    A list is a Redis list under the same prefix, newest item first. Every
    call is one round trip on the platform's shared connection: one command
    (GET, MGET, SET, DEL, INCRBY, PTTL, LRANGE) or one EVALSHA of a
    single-key script (an increment with a TTL, a compare-and-set, a list
    push), so no script needs a hash tag. On a cluster, ``get_many`` reads
    by node (redis-py's ``mget_nonatomic``). Redis being down raises
    :class:`~sheepfold.errors.BackendUnavailable`.
    """

    # redis-py bounds every call (pool, connect and command timeouts, few retries): the switch adds no timer.
    bounds_its_calls = True

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self.outage_domain = connection  # down together with every adapter on this connection
        self._prefix = connection.key("state", "")
        self._incr_with_ttl = connection.script(_INCR_WITH_TTL)
        self._compare_and_set = connection.script(_COMPARE_AND_SET)
        self._list_push = connection.script(_LIST_PUSH)

    async def get(self, key: str) -> bytes | None:
        with unavailable_on_failure():
            return cast("bytes | None", await self.connection.execute("GET", self._prefix + key))

    async def get_many(self, keys: Sequence[str]) -> dict[str, bytes | None]:
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        names = [self._prefix + key for key in unique]
        with unavailable_on_failure():
            client = self.connection.client
            if isinstance(client, RedisCluster):
                # One MGET may not span slots; redis-py splits it by node and keeps the order.
                values = await client.mget_nonatomic(names)
            else:
                values = await self.connection.execute("MGET", *names)
        return dict(zip(unique, cast("list[bytes | None]", values), strict=True))

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        with unavailable_on_failure():
            if ttl is None:
                await self.connection.execute("SET", self._prefix + key, value)
            else:
                await self.connection.execute("SET", self._prefix + key, value, "PX", milliseconds(ttl))

    async def delete(self, key: str) -> bool:
        with unavailable_on_failure():
            return bool(await self.connection.execute("DEL", self._prefix + key))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        with unavailable_on_failure():
            if ttl is None:
                return cast(int, await self.connection.execute("INCRBY", self._prefix + key, amount))
            return cast(
                int,
                await self.connection.run_script(
                    self._incr_with_ttl, [self._prefix + key], [amount, milliseconds(ttl)]
                ),
            )

    async def ttl(self, key: str) -> float | None:
        with unavailable_on_failure():
            remaining = cast(int, await self.connection.execute("PTTL", self._prefix + key))
        if remaining == -2:  # no such key
            return None
        return math.inf if remaining == -1 else remaining / 1000

    async def compare_and_set(self, key: str, expected: bytes | None, new: bytes, ttl: float | None = None) -> bool:
        name = self._prefix + key
        with unavailable_on_failure():
            if expected is None:
                expiry = () if ttl is None else ("PX", milliseconds(ttl))
                return await self.connection.execute("SET", name, new, "NX", *expiry) is not None
            swapped = await self.connection.run_script(
                self._compare_and_set, [name], [expected, new, 0 if ttl is None else milliseconds(ttl)]
            )
        return bool(swapped)

    async def list_push(self, key: str, value: bytes, *, max_length: int, ttl: float | None = None) -> int:
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, not {max_length}")
        with unavailable_on_failure():
            return cast(
                int,
                await self.connection.run_script(
                    self._list_push, [self._prefix + key], [value, max_length, 0 if ttl is None else milliseconds(ttl)]
                ),
            )

    async def list_range(self, key: str, start: int = 0, stop: int = -1) -> list[bytes]:
        with unavailable_on_failure():
            return cast("list[bytes]", await self.connection.execute("LRANGE", self._prefix + key, start, stop))

    async def ping(self) -> None:
        await self.connection.ping()

    async def start(self) -> None:
        """Nothing to open: the shared client connects on its first command."""

    async def close(self) -> None:
        """Nothing to release: the plugin closes the shared connection at shut-down."""
