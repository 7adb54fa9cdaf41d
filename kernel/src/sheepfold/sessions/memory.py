"""The in-memory session-record adapter: one process, bounded, with a per-user index and an outage log."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sheepfold.memory.adapter import MemoryAdapter
from sheepfold.sessions.port import SessionRecord

if TYPE_CHECKING:
    from sheepfold.tasks import BackgroundTasks


class MemorySessionRecords(MemoryAdapter[SessionRecord]):
    """:class:`~sheepfold.sessions.SessionRecords` in process memory, at most ``max_entries`` sessions (LRU).

    Used alone it is the embedded default; used as the fallback of Redis it
    only ever holds what was created or changed while Redis was down, and
    keeps a journal of it (a :class:`SessionJournal`): :meth:`pending` hands
    the records written since the last replay, the ids deleted and the users
    logged out everywhere to the recovery step that replays them onto Redis,
    :meth:`forget` drops from the journal what was replayed (a record changed
    again meanwhile stays in it), and :meth:`clear` empties the adapter once
    traffic returns to Redis. Deletions are remembered up to ``max_entries``
    ids and users; reads (touches) are not journaled. While the switch
    recovers, :meth:`knows` and :meth:`adopt` let a read go through to the
    backend without bringing back what was deleted here.
    """

    def __init__(self, max_entries: int = 100_000, *, tasks: BackgroundTasks | None = None) -> None:
        self._owner: dict[str, str] = {}
        self._user_ids: dict[str, set[str]] = {}
        # Ordered sets (dicts): what a replay must also delete on the backend, oldest first.
        self._deleted: dict[str, None] = {}
        self._ended_users: dict[str, None] = {}
        self._written: dict[str, None] = {}  # ids written since their last replay
        super().__init__(max_entries, tasks=tasks)

    async def create(self, session_id: str, record: SessionRecord) -> bool:
        if self._live(session_id) is not None:
            return False
        self._put(session_id, record)
        return True

    async def read_and_touch(self, session_id: str) -> SessionRecord | None:
        record = self._live(session_id)
        if record is not None:
            self._put(session_id, record, written=False)
        return record

    async def write_if_changed(self, session_id: str, data: bytes) -> bool:
        record = self._live(session_id)
        if record is None:
            return False
        if record.data != data:
            self._put(session_id, record.with_data(data))
        else:
            self._put(session_id, record, written=False)
        return True

    async def regenerate(self, old_id: str, new_id: str, record: SessionRecord) -> bool:
        if self._live(old_id) is None or self._live(new_id) is not None:
            return False
        self._remove(old_id)
        self._put(new_id, record)
        return True

    async def delete(self, session_id: str) -> bool:
        existed = self._remove(session_id, remember=False)
        # Remembered even when unknown here: as a fallback, the id may name a session held by the backend.
        _remember(self._deleted, session_id, self.store.max_entries)
        return existed

    async def restore(self, session_id: str, record: SessionRecord) -> None:
        self._put(session_id, record)

    async def user_sessions(self, user: str) -> dict[str, SessionRecord]:
        found: dict[str, SessionRecord] = {}
        for session_id in list(self._user_ids.get(user, ())):
            record = self._live(session_id)
            if record is not None:
                found[session_id] = record
        return found

    async def end_user_session(self, user: str, session_id: str) -> bool:
        if self._owner.get(session_id) != user:
            return False
        return self._remove(session_id)

    async def end_user_sessions(self, user: str) -> int:
        ended = sum(self._remove(session_id) for session_id in list(self._user_ids.get(user, ())))
        _remember(self._ended_users, user, self.store.max_entries)
        return ended

    def pending(self) -> tuple[dict[str, SessionRecord], list[str], list[str]]:
        """What a backend must still learn: records written since replayed, deleted ids, users logged out everywhere."""
        records: dict[str, SessionRecord] = {}
        for session_id in list(self._written):
            record = self._live(session_id)
            if record is not None:
                records[session_id] = record
            else:
                del self._written[session_id]
        return records, list(self._deleted), list(self._ended_users)

    def knows(self, session_id: str) -> bool:
        """True when this adapter holds ``session_id`` or journaled its deletion: the backend's copy is not read."""
        return session_id in self._deleted or self._live(session_id) is not None

    def adopt(self, session_id: str, record: SessionRecord) -> SessionRecord | None:
        """Keep ``record``, read from the backend, unjournaled; what this adapter now holds for ``session_id``.

        None when the id was deleted here or its user logged out everywhere
        here (a read must not bring back what a log-out ended); the record
        already held when there is one. A later change of an adopted record
        is journaled as any other.
        """
        if session_id in self._deleted or (record.user is not None and record.user in self._ended_users):
            return None
        held = self._live(session_id)
        if held is None:
            self._put(session_id, record, written=False)
            held = self._live(session_id)
        return held

    def forget(self, records: dict[str, SessionRecord], deleted: list[str], ended_users: list[str]) -> None:
        """Drop from the journal what a replay wrote; a record written again since stays journaled."""
        for session_id, record in records.items():
            if self._live(session_id) is record:
                self._written.pop(session_id, None)
        for session_id in deleted:
            self._deleted.pop(session_id, None)
        for user in ended_users:
            self._ended_users.pop(user, None)

    def clear(self) -> None:
        """Drop every record and the journal (traffic is back on the backend; the next outage starts empty)."""
        self.store.clear()
        self._owner.clear()
        self._user_ids.clear()
        self._written.clear()
        self._deleted.clear()
        self._ended_users.clear()

    async def close(self) -> None:
        await super().close()
        self._owner.clear()
        self._user_ids.clear()

    def _live(self, session_id: str) -> SessionRecord | None:
        return self.store.get(session_id)

    def _put(self, session_id: str, record: SessionRecord, *, written: bool = True) -> None:
        ttl = record.ttl(time.time())
        if ttl <= 0:
            self._remove(session_id, remember=False)
            return
        self._unindex(session_id)
        self.store.set(session_id, record, ttl)
        self._deleted.pop(session_id, None)
        if written:
            _remember(self._written, session_id, self.store.max_entries)
        if record.user is not None:
            self._owner[session_id] = record.user
            self._user_ids.setdefault(record.user, set()).add(session_id)

    def _remove(self, session_id: str, *, remember: bool = True) -> bool:
        self._unindex(session_id)
        self._written.pop(session_id, None)
        existed = self.store.pop(session_id) is not None
        if existed and remember:
            _remember(self._deleted, session_id, self.store.max_entries)
        return existed

    def _evicted(self, key: str) -> None:
        self._unindex(key)

    def _unindex(self, session_id: str) -> None:
        user = self._owner.pop(session_id, None)
        if user is not None:
            ids = self._user_ids.get(user)
            if ids is not None:
                ids.discard(session_id)
                if not ids:
                    del self._user_ids[user]


def _remember(ordered: dict[str, None], item: str, limit: int) -> None:
    ordered.pop(item, None)
    ordered[item] = None
    while len(ordered) > limit:
        del ordered[next(iter(ordered))]


@runtime_checkable
class SessionJournal(Protocol):
    """An adapter's journal of the session changes a backend has not seen (the memory adapter keeps one).

    A recovery step finds it with ``recovery.fallback_as(SessionJournal)``.
    """

    def pending(self) -> tuple[dict[str, SessionRecord], list[str], list[str]]: ...

    def forget(self, records: dict[str, SessionRecord], deleted: list[str], ended_users: list[str]) -> None: ...

    def knows(self, session_id: str) -> bool: ...

    def adopt(self, session_id: str, record: SessionRecord) -> SessionRecord | None: ...

    def clear(self) -> None: ...
