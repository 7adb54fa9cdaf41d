"""The Redis adapter of the state port: one command (or one script) per call."""

from __future__ import annotations

import math
from typing import cast

from sheepfold_redis.connection import RedisConnection
from sheepfold_redis.failures import unavailable_on_failure

# INCRBY, and a TTL only when this call created the key (the port's rule).
_INCR_WITH_TTL = """
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
"""


def milliseconds(ttl: float) -> int:
    """A TTL in seconds as whole milliseconds, rounded up so a tiny TTL never means "no expiry"."""
    return max(1, math.ceil(ttl * 1000))


class RedisState:
    """:class:`~sheepfold.state.State` on Redis: each key is ``<namespace>state:<key>``, a Redis string.

    Every call is one round trip (GET, SET, DEL, INCRBY, or one EVALSHA for
    an increment with a TTL) on the platform's shared connection. Redis being
    down raises :class:`~sheepfold.errors.BackendUnavailable`.
    """

    # redis-py bounds every call (pool, connect and command timeouts, few retries): the switch adds no timer.
    bounds_its_calls = True

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self.outage_domain = connection  # down together with every adapter on this connection
        self._execute = connection.execute
        self._prefix = connection.key("state", "")
        self._incr_with_ttl = connection.script(_INCR_WITH_TTL)

    async def get(self, key: str) -> bytes | None:
        with unavailable_on_failure():
            return cast("bytes | None", await self._execute("GET", self._prefix + key))

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        with unavailable_on_failure():
            if ttl is None:
                await self._execute("SET", self._prefix + key, value)
            else:
                await self._execute("SET", self._prefix + key, value, "PX", milliseconds(ttl))

    async def delete(self, key: str) -> bool:
        with unavailable_on_failure():
            return bool(await self._execute("DEL", self._prefix + key))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        with unavailable_on_failure():
            if ttl is None:
                return cast(int, await self._execute("INCRBY", self._prefix + key, amount))
            return cast(
                int,
                await self.connection.run_script(
                    self._incr_with_ttl, [self._prefix + key], [amount, milliseconds(ttl)]
                ),
            )

    async def ping(self) -> None:
        await self.connection.ping()

    async def start(self) -> None:
        """Nothing to open: the shared client connects on its first command."""

    async def close(self) -> None:
        """Nothing to release: the plugin closes the shared connection at shut-down."""
