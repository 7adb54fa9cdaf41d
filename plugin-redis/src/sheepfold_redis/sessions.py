"""The Redis adapter of the session-record port: a key per session and per user, one Lua script (EVALSHA) per key."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from redis.commands.core import AsyncScript

from sheepfold.sessions.port import SessionRecord
from sheepfold_redis.connection import RedisConnection
from sheepfold_redis.failures import unavailable_on_failure
from sheepfold_redis.hashtags import tag_text

# A session's record (KEYS[1]) from ARGV: data, user ('' = none), idle ms, deadline ms, created ms, now ms.
# Shared by the scripts that store one. Returns 0 (and stores nothing) when its deadline has passed.
_PUT = """
local function put(key, data, user, idle, deadline, created, now)
  local ttl = math.min(tonumber(idle), tonumber(deadline) - tonumber(now))
  if ttl <= 0 then return 0 end
  redis.call('DEL', key)
  redis.call('HSET', key, 'd', data, 'u', user, 'i', idle, 'a', deadline, 'c', created)
  redis.call('PEXPIRE', key, ttl)
  return 1
end
"""

_CREATE = (
    _PUT
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return put(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
"""
)

# Returns the user the replaced record had (false when there was none).
_RESTORE = (
    _PUT
    + """
local previous = redis.call('HGET', KEYS[1], 'u')
put(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return previous
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

# KEYS[1] session; ARGV[1] required owner ('' = anyone). Returns the deleted record's user ('' for
# none), or false when there was no such record (or it belonged to someone else).
_DELETE = """
local user = redis.call('HGET', KEYS[1], 'u')
if not user then return false end
if ARGV[1] ~= '' and user ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
return user
"""

# KEYS[1] a user's index; ARGV[1] session id, ARGV[2] its deadline ms, ARGV[3] now ms. Drops entries whose
# deadline passed; an entry's score only ever grows, so it never leaves before its session's deadline.
_INDEX = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) < tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
local left = tonumber(ARGV[2]) - tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < left then redis.call('PEXPIRE', KEYS[1], left) end
return 1
"""

#: How many sessions of one user are read or ended concurrently.
USER_BATCH = 100


def _ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)


class RedisSessionRecords:
    """:class:`~sheepfold.sessions.SessionRecords` on Redis: a key per session, hash-tagged by its id.

    Layout (``<ns>`` is the connection's namespace; ``{…}`` the Cluster hash
    tag, see :mod:`sheepfold_redis.hashtags`):

    - ``<ns>{<id>}:session``: a hash with fields ``d`` (data), ``u`` (user,
      ``""`` for none), ``i`` (idle timeout, ms), ``a`` (absolute deadline,
      epoch ms) and ``c`` (created, epoch ms), expiring after the idle
      timeout, never past the deadline;
    - ``<ns>{<user>}:session-user``: a sorted set of the user's session ids
      scored by their deadlines, trimmed on every write to it.

    Every session and every user's index has a slot of its own, so on a
    Cluster they spread over every primary. Reading, touching and writing a
    session is one ``EVALSHA`` on its key. What involves a session and an
    index (creating or restoring a signed-in session, regenerating,
    deleting, listing or ending a user's sessions) takes one script per key,
    ordered so that no session is ever alive without its index entry: the
    entry is added before the session is stored and removed after it is
    deleted. A call interrupted halfway (Redis down) leaves at most an index
    entry whose session is gone, which listings skip and the entry's
    deadline removes. Regenerating stores the new session before it deletes
    the old one, and takes the new one back if the old one was gone.

    Deadlines are wall-clock times from the calling instance's clock.
    """

    # redis-py bounds every call (pool, connect and command timeouts, few retries): the switch adds no timer.
    bounds_its_calls = True

    def __init__(self, connection: RedisConnection, *, registry: CollectorRegistry | None = None) -> None:
        """``registry``: where the counter of unreplicated writes goes (when ``WAIT`` is on), else nowhere."""
        self.connection = connection
        self.outage_domain = connection  # down together with every adapter on this connection
        self._namespace = connection.namespace
        self._create = connection.script(_CREATE)
        self._restore = connection.script(_RESTORE)
        self._read_and_touch: AsyncScript = connection.script(_READ_AND_TOUCH)
        self._run = connection.run_script
        self._write_if_changed = connection.script(_WRITE_IF_CHANGED)
        self._delete = connection.script(_DELETE)
        self._index = connection.script(_INDEX)
        #: Session writes that fewer replicas than ``redis.session_writes.wait_replicas`` acknowledged in time.
        self.unreplicated_writes = 0
        waits = connection.settings.session_wait_replicas > 0
        self._unreplicated = (
            Counter(
                "sheepfold_redis_session_writes_unreplicated",
                "Session writes that fewer replicas than redis.session_writes.wait_replicas acknowledged in time.",
                registry=registry,
            )
            if waits and registry is not None
            else None
        )
        # Scripts that change a session record: WAIT after each when settings ask for replicas.
        self._write = self._run_and_wait if waits else connection.run_script

    async def _run_and_wait(self, script: AsyncScript, keys: list[Any], args: list[Any]) -> Any:
        settings = self.connection.settings
        reply, acknowledged = await self.connection.run_script_and_wait(
            script, keys, args, replicas=settings.session_wait_replicas, timeout=settings.session_wait_timeout
        )
        if acknowledged < settings.session_wait_replicas:
            self.unreplicated_writes += 1
            if self._unreplicated is not None:
                self._unreplicated.inc()
        return reply

    def session_key(self, session_id: str) -> str:
        """The key of the session ``session_id``: ``<ns>{<id>}:session``."""
        return f"{self._namespace}{{{tag_text(session_id)}}}:session"

    def index_key(self, user: str) -> str:
        """The key of ``user``'s index of sessions: ``<ns>{<user>}:session-user``."""
        return f"{self._namespace}{{{tag_text(user)}}}:session-user"

    @staticmethod
    def _record_args(record: SessionRecord) -> list[bytes | str | int]:
        return [
            record.data,
            record.user or "",
            _ms(record.idle_timeout),
            _ms(record.absolute_deadline),
            _ms(record.created_at),
            _ms(time.time()),
        ]

    async def _add_to_index(self, session_id: str, record: SessionRecord) -> None:
        if record.user:
            await self._run(
                self._index,
                [self.index_key(record.user)],
                [session_id, _ms(record.absolute_deadline), _ms(time.time())],
            )

    async def _remove_from_index(self, user: bytes | str | None, session_id: str) -> None:
        name = user.decode() if isinstance(user, bytes) else user
        if name:
            await self.connection.execute("ZREM", self.index_key(name), session_id)

    async def _delete_record(self, session_id: str, owner: str = "") -> bool:
        """Delete the record (only if ``owner`` holds it, when given), then its index entry; True when it was there."""
        user = await self._write(self._delete, [self.session_key(session_id)], [owner])
        if user is None:
            return False
        await self._remove_from_index(user, session_id)
        return True

    async def create(self, session_id: str, record: SessionRecord) -> bool:
        with unavailable_on_failure():
            await self._add_to_index(session_id, record)
            created = await self._write(self._create, [self.session_key(session_id)], self._record_args(record))
        return bool(created)

    async def read_and_touch(self, session_id: str) -> SessionRecord | None:
        with unavailable_on_failure():
            fields = await self._run(self._read_and_touch, [self.session_key(session_id)], [_ms(time.time())])
        return None if fields is None else _record(fields)

    async def write_if_changed(self, session_id: str, data: bytes) -> bool:
        with unavailable_on_failure():
            written = await self._write(
                self._write_if_changed, [self.session_key(session_id)], [data, _ms(time.time())]
            )
        return bool(written)

    async def regenerate(self, old_id: str, new_id: str, record: SessionRecord) -> bool:
        with unavailable_on_failure():
            if not await self.create(new_id, record):
                return False
            if not await self._delete_record(old_id):
                # The old session was gone (signed out, expired): nothing to move, so no new one either.
                await self._delete_record(new_id)
                return False
        return True

    async def delete(self, session_id: str) -> bool:
        with unavailable_on_failure():
            return await self._delete_record(session_id)

    async def restore(self, session_id: str, record: SessionRecord) -> None:
        with unavailable_on_failure():
            await self._add_to_index(session_id, record)
            previous = await self._write(self._restore, [self.session_key(session_id)], self._record_args(record))
            if previous is not None and previous.decode() != (record.user or ""):
                await self._remove_from_index(previous, session_id)

    async def user_sessions(self, user: str) -> dict[str, SessionRecord]:
        found: dict[str, SessionRecord] = {}
        with unavailable_on_failure():
            ids = await self._indexed(user)
            for at in range(0, len(ids), USER_BATCH):
                batch = ids[at : at + USER_BATCH]
                replies = await asyncio.gather(
                    *(self.connection.execute("HMGET", self.session_key(i), "d", "u", "i", "a", "c") for i in batch)
                )
                for session_id, fields in zip(batch, replies, strict=True):
                    # Gone, or in the index of a user it no longer belongs to (a restore moved it).
                    if fields[0] is not None and fields[1].decode() == user:
                        found[session_id] = _record(fields)
        return found

    async def end_user_session(self, user: str, session_id: str) -> bool:
        if not user:
            return False
        with unavailable_on_failure():
            return await self._delete_record(session_id, owner=user)

    async def end_user_sessions(self, user: str) -> int:
        ended = 0
        with unavailable_on_failure():
            ids = await self._indexed(user)
            for at in range(0, len(ids), USER_BATCH):
                batch = ids[at : at + USER_BATCH]
                deleted = await asyncio.gather(
                    *(self._write(self._delete, [self.session_key(i)], [user]) for i in batch)
                )
                gone = [session_id for session_id, was in zip(batch, deleted, strict=True) if was is not None]
                if gone:
                    await self.connection.execute("ZREM", self.index_key(user), *gone)
                ended += len(gone)
        return ended

    async def _indexed(self, user: str) -> list[str]:
        """Ids in ``user``'s index whose deadline has not passed (their sessions may be gone)."""
        ids = await self.connection.execute("ZRANGEBYSCORE", self.index_key(user), _ms(time.time()), "+inf")
        return [session_id.decode() for session_id in ids]

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
