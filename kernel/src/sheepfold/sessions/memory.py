"""The in-memory session-record adapter: one process, bounded, with a per-user index and an outage log."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sheepfold.memory.adapter import MemoryAdapter
from sheepfold.sessions.port import SessionRecord

if TYPE_CHECKING:
    from sheepfold.tasks import BackgroundTasks


class MemorySessionRecords(MemoryAdapter):
    """:class:`~sheepfold.sessions.SessionRecords` in process memory, at most ``max_entries`` sessions (LRU).

    Used alone it is the embedded default; used as the fallback of Redis it
    only ever holds what was created or changed while Redis was down.
    :meth:`pending` hands that (plus what was deleted meanwhile) to the
    recovery that replays it onto Redis, and :meth:`forget` drops what was
    replayed. Deletions are remembered up to ``max_entries`` ids and users.
    """

    def __init__(self, max_entries: int = 100_000, *, tasks: BackgroundTasks | None = None) -> None:
        self._owner: dict[str, str] = {}
        self._user_ids: dict[str, set[str]] = {}
        # Ordered sets (dicts): what a replay must also delete on the backend, oldest first.
        self._deleted: dict[str, None] = {}
        self._ended_users: dict[str, None] = {}
        super().__init__(max_entries, tasks=tasks)

    async def create(self, session_id: str, record: SessionRecord) -> bool:
        if self._live(session_id) is not None:
            return False
        self._put(session_id, record)
        return True

    async def read_and_touch(self, session_id: str) -> SessionRecord | None:
        record = self._live(session_id)
        if record is not None:
            self._put(session_id, record)
        return record

    async def write_if_changed(self, session_id: str, data: bytes) -> bool:
        record = self._live(session_id)
        if record is None:
            return False
        self._put(session_id, record if record.data == data else record.with_data(data))
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
        found = {}
        for session_id in list(self._user_ids.get(user, ())):
            record = self.store.get(session_id)
            if record is not None:
                found[session_id] = record  # type: ignore[assignment]
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
        """What a backend must learn after an outage: live records, deleted ids, users logged out everywhere."""
        records = {}
        for session_id in self.store:
            record = self.store.get(session_id)
            if record is not None:
                records[session_id] = record  # type: ignore[assignment]
        return records, list(self._deleted), list(self._ended_users)

    def forget(self, session_ids: list[str], deleted: list[str], ended_users: list[str]) -> None:
        """Drop what a replay has written to the backend, so the next outage starts empty."""
        for session_id in session_ids:
            self._remove(session_id, remember=False)
        for session_id in deleted:
            self._deleted.pop(session_id, None)
        for user in ended_users:
            self._ended_users.pop(user, None)

    async def close(self) -> None:
        await super().close()
        self._owner.clear()
        self._user_ids.clear()

    def _live(self, session_id: str) -> SessionRecord | None:
        return self.store.get(session_id)  # type: ignore[return-value]

    def _put(self, session_id: str, record: SessionRecord) -> None:
        ttl = record.ttl(time.time())
        if ttl <= 0:
            self._remove(session_id, remember=False)
            return
        self._unindex(session_id)
        self.store.set(session_id, record, ttl)  # type: ignore[arg-type]
        self._deleted.pop(session_id, None)
        if record.user is not None:
            self._owner[session_id] = record.user
            self._user_ids.setdefault(record.user, set()).add(session_id)

    def _remove(self, session_id: str, *, remember: bool = True) -> bool:
        self._unindex(session_id)
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
