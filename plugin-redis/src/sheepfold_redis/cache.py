"""The Redis adapter of the cache port, with tags as sorted sets of member keys."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import cast

from sheepfold_redis.connection import RedisConnection
from sheepfold_redis.failures import unavailable_on_failure
from sheepfold_redis.state import milliseconds

VALUE_FIELD = b"v"
TAG_FIELD_PREFIX = b"t:"
#: Members handled per round trip when invalidating a tag or clearing the cache.
BATCH = 500
#: Tag members count as expired only this many seconds after their score: scores come
#: from this process's clock and expiry from Redis', which may differ a little.
CLOCK_SKEW = 60.0


class RedisCache:
    """:class:`~sheepfold.cache.Cache` on Redis.

    Layout (``<ns>`` is the connection's namespace):

    - ``<ns>cache:<key>``: a hash holding the value in field ``v`` and one
      field ``t:<tag>`` per tag it carries, expiring with the value's TTL;
    - ``<ns>cache-tag:<tag>``: a sorted set of the value keys that were given
      the tag, scored by when each expires (``inf`` for never).

    ``get`` is one HGET. ``set`` is one round trip: a MULTI/EXEC (a plain
    pipeline on a cluster) that replaces the hash, sets its TTL, and adds the
    key to each tag's set, trimming members that have expired. ``delete`` is
    one DEL. ``invalidate_tag`` costs O(members of the tag), never a scan:
    it reads live members in batches, removes them from the tag's set, then
    unlinks those whose hash still carries the tag (a key rewritten since with
    other tags is kept). A deleted or retagged key stays in an old tag's set
    until that tag is invalidated or the key's expiry passes a later write.

    After an outage, the kernel's cache recovery step applies to Redis every
    delete, ``set`` and tag invalidation the fallback took meanwhile (and
    :meth:`clear` only when that journal overflowed), before traffic returns.
    """

    # redis-py bounds every call (pool, connect and command timeouts, few retries): the switch adds no timer.
    bounds_its_calls = True

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self.outage_domain = connection  # down together with every adapter on this connection
        self._client = connection.client
        self._execute = connection.execute
        self._value_prefix = connection.key("cache", "")
        self._tag_prefix = connection.key("cache-tag", "")
        self._calls = unavailable_on_failure()

    async def get(self, key: str) -> bytes | None:
        with self._calls:
            return cast("bytes | None", await self._execute("HGET", self._value_prefix + key, VALUE_FIELD))

    async def set(self, key: str, value: bytes, ttl: float | None = None, tags: Iterable[str] = ()) -> None:
        name = self._value_prefix + key
        tag_list = list(dict.fromkeys(tags))
        fields = {VALUE_FIELD: value, **{TAG_FIELD_PREFIX + tag.encode(): b"" for tag in tag_list}}
        now = time.time()
        expires_at = float("inf") if ttl is None else now + ttl
        pipe = self.connection.pipeline()
        pipe.delete(name)
        pipe.hset(name, mapping=fields)
        if ttl is not None:
            pipe.pexpire(name, milliseconds(ttl))
        for tag in tag_list:
            tag_name = self._tag_prefix + tag
            pipe.zremrangebyscore(tag_name, "-inf", now - CLOCK_SKEW)
            pipe.zadd(tag_name, {name: expires_at})
        with self._calls:
            await pipe.execute()

    async def delete(self, key: str) -> bool:
        with self._calls:
            return bool(await self._client.delete(self._value_prefix + key))

    async def invalidate_tag(self, tag: str) -> int:
        tag_name = self._tag_prefix + tag
        tag_field = TAG_FIELD_PREFIX + tag.encode()
        removed = 0
        with self._calls:
            while True:
                members = await self._client.zrangebyscore(
                    tag_name, time.time() - CLOCK_SKEW, "+inf", start=0, num=BATCH
                )
                if not members:
                    break
                # Out of the tag's set first: a key re-tagged concurrently is then either
                # re-added after this (and unlinked below) or kept; never left tagged but unlisted.
                pipe = self._client.pipeline(transaction=False)  # reads and an idempotent ZREM
                pipe.zrem(tag_name, *members)
                for member in members:
                    pipe.hexists(member, tag_field)  # type: ignore[arg-type]  # redis-py types fields as str; bytes go as is
                _, *tagged = await pipe.execute()
                still_tagged = [member for member, has in zip(members, tagged, strict=True) if has]
                if still_tagged:
                    removed += await self._client.unlink(*still_tagged)
            await self._client.zremrangebyscore(tag_name, "-inf", time.time() - CLOCK_SKEW)
        return removed

    async def clear(self) -> int:
        """Remove every cached value and tag of this namespace with SCAN and UNLINK in batches (never KEYS).

        Costs O(keys in Redis) server-side, spread over many small calls;
        meant for operators, not request paths. Returns how many keys went.
        """
        removed = 0
        with unavailable_on_failure():
            for prefix in (self._value_prefix, self._tag_prefix):
                batch: list[bytes] = []
                async for name in self._client.scan_iter(match=_glob_escape(prefix) + "*", count=BATCH):
                    batch.append(name)
                    if len(batch) >= BATCH:
                        removed += await self._client.unlink(*batch)
                        batch = []
                if batch:
                    removed += await self._client.unlink(*batch)
        return removed

    async def ping(self) -> None:
        await self.connection.ping()

    async def start(self) -> None:
        """Nothing to open: the shared client connects on its first command."""

    async def close(self) -> None:
        """Nothing to release: the plugin closes the shared connection at shut-down."""


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
