"""The Redis adapter of the session-record port: one Lua script (EVALSHA) per operation."""

from __future__ import annotations

import math
import time
from typing import cast

from redis.commands.core import AsyncScript

from sheepfold.sessions.port import SessionRecord
from sheepfold_redis.connection import RedisConnection
from sheepfold_redis.failures import unavailable_on_failure

#: Every session key carries this Cluster hash tag, so a script may touch a session, the
#: session it is regenerated into and both users' indexes: they all live in one slot.
HASH_TAG = "sessions"

# Shared by the scripts that store a record: KEYS[1] is its key; ARGV from 2 on are
# id, data, user ('' = none), idle ms, deadline ms, created ms, now ms, index prefix.
_PUT = """
local function unindex(key, id, prefix)
  local user = redis.call('HGET', key, 'u')
  if user and user ~= '' then redis.call('ZREM', prefix .. user, id) end
end
local function put(key, id, data, user, idle, deadline, created, now, prefix)
  local ttl = math.min(tonumber(idle), tonumber(deadline) - tonumber(now))
  if ttl <= 0 then return 0 end
  redis.call('DEL', key)
  redis.call('HSET', key, 'd', data, 'u', user, 'i', idle, 'a', deadline, 'c', created)
  redis.call('PEXPIRE', key, ttl)
  if user ~= '' then
    local index = prefix .. user
    redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
    redis.call('ZADD', index, deadline, id)
    local left = tonumber(deadline) - tonumber(now)
    if redis.call('PTTL', index) < left then redis.call('PEXPIRE', index, left) end
  end
  return 1
end
"""

_CREATE = (
    _PUT
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
put(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
return 1
"""
)

_RESTORE = (
    _PUT
    + """
unindex(KEYS[1], ARGV[1], ARGV[8])
return put(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
"""
)

# KEYS[1] old session, KEYS[2] new session; ARGV[1] new id, ARGV[2..8] as put, ARGV[9] old id.
_REGENERATE = (
    _PUT
    + """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
unindex(KEYS[1], ARGV[9], ARGV[8])
redis.call('DEL', KEYS[1])
put(KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
return 1
"""
)

# KEYS[1] session; ARGV[1] now ms. Returns data, user, idle, deadline, created (or nil).
_READ_AND_TOUCH = """
local r = redis.call('HMGET', KEYS[1], 'd', 'u', 'i', 'a', 'c')
if not r[1] then return nil end
local ttl = math.min(tonumber(r[3]), tonumber(r[4]) - tonumber(ARGV[1]))
if ttl <= 0 then redis.call('DEL', KEYS[1]) return nil end
redis.call('PEXPIRE', KEYS[1], ttl)
return r
"""

# KEYS[1] session; ARGV[1] data, ARGV[2] now ms.
_WRITE_IF_CHANGED = """
local r = redis.call('HMGET', KEYS[1], 'd', 'i', 'a')
if not r[1] then return 0 end
local ttl = math.min(tonumber(r[2]), tonumber(r[3]) - tonumber(ARGV[2]))
if ttl <= 0 then redis.call('DEL', KEYS[1]) return 0 end
if r[1] ~= ARGV[1] then redis.call('HSET', KEYS[1], 'd', ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""

# KEYS[1] session; ARGV[1] id, ARGV[2] index prefix, ARGV[3] required owner ('' = anyone).
_DELETE = """
local user = redis.call('HGET', KEYS[1], 'u')
if not user then return 0 end
if ARGV[3] ~= '' and user ~= ARGV[3] then return 0 end
if user ~= '' then redis.call('ZREM', ARGV[2] .. user, ARGV[1]) end
return redis.call('DEL', KEYS[1])
"""

# KEYS[1] user index; ARGV[1] session prefix. Returns id, data, user, idle, deadline, created per live session.
_USER_SESSIONS = """
local found = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local r = redis.call('HMGET', ARGV[1] .. id, 'd', 'u', 'i', 'a', 'c')
  if r[1] then
    table.insert(found, id)
    for _, field in ipairs(r) do table.insert(found, field) end
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return found
"""

# KEYS[1] user index; ARGV[1] session prefix. Returns how many sessions ended.
_END_USER_SESSIONS = """
local ended = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  ended = ended + redis.call('DEL', ARGV[1] .. id)
end
redis.call('DEL', KEYS[1])
return ended
"""


def _ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)


class RedisSessionRecords:
    """:class:`~sheepfold.sessions.SessionRecords` on Redis, one EVALSHA per call.

    Layout (``<ns>`` is the connection's namespace; every key carries the
    hash tag ``{sessions}``, so on a Cluster all sessions share one slot and
    any script may touch several of them):

    - ``<ns>{sessions}:session:<id>``: a hash with fields ``d`` (data), ``u``
      (user, ``""`` for none), ``i`` (idle timeout, ms), ``a`` (absolute
      deadline, epoch ms) and ``c`` (created, epoch ms), expiring after the
      idle timeout, never past the deadline;
    - ``<ns>{sessions}:session-user:<user>``: a sorted set of the user's
      session ids scored by their deadlines, trimmed on every write.

    Deadlines are wall-clock times from the calling instance's clock.
    """

    # redis-py bounds every call (pool, connect and command timeouts, few retries): the switch adds no timer.
    bounds_its_calls = True

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self.outage_domain = connection  # down together with every adapter on this connection
        self._session_prefix = connection.key("session", "", tag=HASH_TAG)
        self._index_prefix = connection.key("session-user", "", tag=HASH_TAG)
        self._create = connection.script(_CREATE)
        self._restore = connection.script(_RESTORE)
        self._regenerate = connection.script(_REGENERATE)
        self._read_and_touch: AsyncScript = connection.script(_READ_AND_TOUCH)
        self._run = connection.run_script
        self._write_if_changed = connection.script(_WRITE_IF_CHANGED)
        self._delete = connection.script(_DELETE)
        self._user_sessions = connection.script(_USER_SESSIONS)
        self._end_user_sessions = connection.script(_END_USER_SESSIONS)

    def _put_args(self, session_id: str, record: SessionRecord) -> list[bytes | str | int]:
        return [
            session_id,
            record.data,
            record.user or "",
            _ms(record.idle_timeout),
            _ms(record.absolute_deadline),
            _ms(record.created_at),
            _ms(time.time()),
            self._index_prefix,
        ]

    async def create(self, session_id: str, record: SessionRecord) -> bool:
        with unavailable_on_failure():
            created = await self._run(
                self._create, [self._session_prefix + session_id], self._put_args(session_id, record)
            )
        return bool(created)

    async def read_and_touch(self, session_id: str) -> SessionRecord | None:
        with unavailable_on_failure():
            fields = await self._run(self._read_and_touch, [self._session_prefix + session_id], [_ms(time.time())])
        return None if fields is None else _record(fields)

    async def write_if_changed(self, session_id: str, data: bytes) -> bool:
        with unavailable_on_failure():
            written = await self._run(
                self._write_if_changed, [self._session_prefix + session_id], [data, _ms(time.time())]
            )
        return bool(written)

    async def regenerate(self, old_id: str, new_id: str, record: SessionRecord) -> bool:
        with unavailable_on_failure():
            moved = await self._run(
                self._regenerate,
                [self._session_prefix + old_id, self._session_prefix + new_id],
                [*self._put_args(new_id, record), old_id],
            )
        return bool(moved)

    async def delete(self, session_id: str) -> bool:
        with unavailable_on_failure():
            deleted = await self._run(
                self._delete, [self._session_prefix + session_id], [session_id, self._index_prefix, ""]
            )
        return bool(deleted)

    async def restore(self, session_id: str, record: SessionRecord) -> None:
        with unavailable_on_failure():
            await self._run(self._restore, [self._session_prefix + session_id], self._put_args(session_id, record))

    async def user_sessions(self, user: str) -> dict[str, SessionRecord]:
        with unavailable_on_failure():
            flat = await self._run(self._user_sessions, [self._index_prefix + user], [self._session_prefix])
        return {flat[at].decode(): _record(flat[at + 1 : at + 6]) for at in range(0, len(flat), 6)}

    async def end_user_session(self, user: str, session_id: str) -> bool:
        if not user:
            return False
        with unavailable_on_failure():
            deleted = await self._run(
                self._delete, [self._session_prefix + session_id], [session_id, self._index_prefix, user]
            )
        return bool(deleted)

    async def end_user_sessions(self, user: str) -> int:
        with unavailable_on_failure():
            ended = await self._run(self._end_user_sessions, [self._index_prefix + user], [self._session_prefix])
        return cast(int, ended)

    async def ping(self) -> None:
        await self.connection.ping()

    async def start(self) -> None:
        """Nothing to open: the shared client connects on its first command."""

    async def close(self) -> None:
        """Nothing to release: the plugin closes the shared connection at shut-down."""


def _record(fields: list[bytes]) -> SessionRecord:
    data, user, idle, deadline, created = fields
    return SessionRecord(
        data=data,
        user=user.decode() or None,
        idle_timeout=int(idle) / 1000,
        absolute_deadline=int(deadline) / 1000,
        created_at=int(created) / 1000,
    )
