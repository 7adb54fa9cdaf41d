"""The Redis adapter of the cache port: a key per entry and per tag, each in a slot of its own.

Tag invalidation never needs a script across slots, so entries and tags
spread over a Cluster's primaries. Each tag has a version (a Redis
timestamp in µs, bumped by every invalidation); an entry records, per tag,
the version it was written under. Invalidating a tag bumps its version,
then visits its members one entry at a time: it deletes the entry if it
carries the tag at an older version, and leaves a short-lived *stale
marker* beside it. A write that read a tag's version before the bump
and lands after the visit finds that marker and is dropped, so no value
written before an invalidation survives it, whatever the interleaving
(see :class:`RedisCache`).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Iterable
from typing import cast

from sheepfold_redis.connection import RedisConnection
from sheepfold_redis.failures import unavailable_on_failure
from sheepfold_redis.hashtags import tag_text
from sheepfold_redis.state import milliseconds

VALUE_FIELD = b"v"
TAG_FIELD_PREFIX = "t:"
#: Members handled per round trip when invalidating a tag or clearing the cache.
BATCH = 500
#: Tag members count as expired only this many seconds after their score: scores come
#: from this process's clock and expiry from Redis', which may differ a little.
CLOCK_SKEW = 60.0
#: Milliseconds a stale marker lives. A write slower than half of it (between reading its tags'
#: versions and storing the entry) is dropped instead of stored: the marker may be gone by then.
STALE_MARKER_MS = 60_000
#: Milliseconds a tag's version outlives its last invalidation. Versions are Redis timestamps, so a
#: version read after the key expired (0) is older than any later one: the key need not live forever.
VERSION_TTL_MS = 86_400_000

# KEYS[1] the tag's members, KEYS[2] its version; ARGV[1] the entry's key, ARGV[2] its expiry (epoch s or
# 'inf'), ARGV[3] the score below which members have expired. Returns the tag's version ('0': never invalidated).
_TAG_ENTRY = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return redis.call('GET', KEYS[2]) or '0'
"""

# KEYS[1] the entry, KEYS[1 + i] the stale marker of its tag i; ARGV[1] value, ARGV[2] TTL ms ('0': none),
# then per tag i: ARGV[1 + 2i] its field, ARGV[2 + 2i] the version read. Returns 1 when stored, 0 when one of
# its tags was invalidated since its version was read (the entry is then removed, never stored stale).
_SET_ENTRY = """
for i = 1, #KEYS - 1 do
  local marker = redis.call('GET', KEYS[1 + i])
  if marker and tonumber(marker) > tonumber(ARGV[2 + 2 * i]) then
    redis.call('DEL', KEYS[1])
    return 0
  end
end
redis.call('DEL', KEYS[1])
local fields = {'v', ARGV[1]}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
if ARGV[2] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""

# KEYS[1] the tag's members, KEYS[2] its version, KEYS[3] the members still to visit; ARGV[1] version TTL ms.
# Bumps the version and moves the members to the visit list (joining what an interrupted run left there).
_BEGIN_INVALIDATION = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local version = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, now)
local text = string.format('%.0f', version)
redis.call('SET', KEYS[2], text, 'PX', ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('ZUNIONSTORE', KEYS[3], 2, KEYS[3], KEYS[1], 'AGGREGATE', 'MAX')
  redis.call('DEL', KEYS[1])
end
return text
"""

# KEYS[1] an entry, KEYS[2] its stale marker for the tag; ARGV[1] the tag's field, ARGV[2] the new version,
# ARGV[3] marker TTL ms. Returns 1 when the entry carried the tag at an older version and was removed.
_INVALIDATE_ENTRY = """
local marker = redis.call('GET', KEYS[2])
if not marker or tonumber(marker) < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
local version = redis.call('HGET', KEYS[1], ARGV[1])
if version and tonumber(version) < tonumber(ARGV[2]) then
  redis.call('UNLINK', KEYS[1])
  return 1
end
return 0
"""


class RedisCache:
    """:class:`~sheepfold.cache.Cache` on Redis.

    Layout (``<ns>`` is the connection's namespace, ``{…}`` a Cluster hash tag):

    - ``<ns>{<key>}:cache``: a hash holding the value in field ``v`` and one
      field ``t:<tag>`` per tag, holding the tag's version when the value was
      written; expires with the value's TTL;
    - ``<ns>{<key>}:cache:stale:<tag>``: the version of the last invalidation
      of ``<tag>`` that visited this entry, for a minute;
    - ``<ns>{<tag>}:cache-tag``: a sorted set of the entry keys given the tag,
      scored by when each expires (``inf`` for never);
    - ``<ns>{<tag>}:cache-tag-version``: the tag's version (a Redis
      timestamp in µs), a day after its last invalidation;
    - ``<ns>{<tag>}:cache-tag-invalidating``: members an invalidation still
      has to visit (left by an interrupted one, finished by the next).

    ``get`` is one HGET and ``delete`` one DEL. ``set`` without tags is one
    EVALSHA; with tags, one EVALSHA per tag (in parallel: they add the entry
    to each tag's set and read its version) and then one on the entry, which
    stores it unless a stale marker shows a tag was invalidated in between.
    ``invalidate_tag`` costs O(members of the tag), never a scan: one EVALSHA
    on the tag, then per batch of :data:`BATCH` members one EVALSHA per
    member (in parallel) and one ZREM. Every script touches the keys of one
    entry or of one tag, so each runs in one slot of a Cluster.

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
        self._run = connection.run_script
        self._namespace = connection.namespace
        self._tag_entry = connection.script(_TAG_ENTRY)
        self._set_entry = connection.script(_SET_ENTRY)
        self._begin_invalidation = connection.script(_BEGIN_INVALIDATION)
        self._invalidate_entry = connection.script(_INVALIDATE_ENTRY)
        self._calls = unavailable_on_failure()
        # Hot keys are read again and again: their names are built once (a C-level cache hit costs less).
        self.entry_key = functools.lru_cache(maxsize=16_384)(self._build_entry_key)

    def _build_entry_key(self, key: str) -> str:
        """The Redis key of the cache entry ``key``: ``<ns>{<key>}:cache`` (:attr:`entry_key`, cached)."""
        return f"{self._namespace}{{{tag_text(key)}}}:cache"

    def tag_keys(self, tag: str) -> tuple[str, str, str]:
        """The Redis keys of ``tag``: its members, its version and its members still to visit."""
        base = f"{self._namespace}{{{tag_text(tag)}}}:cache-tag"
        return base, base + "-version", base + "-invalidating"

    async def get(self, key: str) -> bytes | None:
        with self._calls:
            return cast("bytes | None", await self.connection.execute("HGET", self.entry_key(key), VALUE_FIELD))

    async def set(self, key: str, value: bytes, ttl: float | None = None, tags: Iterable[str] = ()) -> None:
        name = self.entry_key(key)
        tag_list = list(dict.fromkeys(tags))
        arguments: list[bytes | str | int] = [value, 0 if ttl is None else milliseconds(ttl)]
        started = time.monotonic()
        with self._calls:
            if tag_list:
                now = time.time()
                expires_at = "inf" if ttl is None else repr(now + ttl)
                versions = await asyncio.gather(
                    *(
                        self._run(self._tag_entry, list(self.tag_keys(tag)[:2]), [name, expires_at, now - CLOCK_SKEW])
                        for tag in tag_list
                    )
                )
                if time.monotonic() - started > STALE_MARKER_MS / 2000:
                    # Too slow to trust the stale markers (they may have expired): drop the write.
                    await self.connection.execute("DEL", name)
                    return
                for tag, version in zip(tag_list, versions, strict=True):
                    arguments += [TAG_FIELD_PREFIX + tag, version]
            markers = [f"{name}:stale:{tag}" for tag in tag_list]
            await self._run(self._set_entry, [name, *markers], arguments)

    async def delete(self, key: str) -> bool:
        with self._calls:
            return bool(await self.connection.execute("DEL", self.entry_key(key)))

    async def invalidate_tag(self, tag: str) -> int:
        members_key, version_key, visiting_key = self.tag_keys(tag)
        field = TAG_FIELD_PREFIX + tag
        removed = 0
        with self._calls:
            version = await self._run(
                self._begin_invalidation, [members_key, version_key, visiting_key], [VERSION_TTL_MS]
            )
            while True:
                members: list[bytes] = await self.connection.execute("ZRANGE", visiting_key, 0, BATCH - 1)
                if not members:
                    break
                visited = await asyncio.gather(
                    *(
                        self._run(
                            self._invalidate_entry,
                            [member, member + b":stale:" + tag.encode()],
                            [field, version, STALE_MARKER_MS],
                        )
                        for member in members
                    )
                )
                removed += sum(visited)
                # Out of the visit list only once visited: an interrupted run leaves the rest to the next.
                await self.connection.execute("ZREM", visiting_key, *members)
        return removed

    async def clear(self) -> int:
        """Remove every cached value and tag of this namespace with SCAN and UNLINK in batches (never KEYS).

        Costs O(keys in Redis) server-side, spread over many small calls;
        meant for operators, not request paths. Returns how many keys went.
        """
        removed = 0
        # Every cache key, and no other: hash tags never hold a brace, so "}:cache" ends the tag of one.
        pattern = _glob_escape(self._namespace) + "{*}:cache*"
        with unavailable_on_failure():
            batch: list[bytes] = []
            async for name in self._client.scan_iter(match=pattern, count=BATCH):
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
