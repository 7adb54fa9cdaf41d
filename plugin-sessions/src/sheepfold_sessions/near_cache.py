"""The near cache: session records this instance read recently, so an outage signs nobody out here."""

from __future__ import annotations

import time
from collections import OrderedDict

from sheepfold import FallbackSwitch, Phase
from sheepfold.sessions import SessionJournal, SessionRecord, SessionRecords


class NearSessionCache:
    """At most ``max_entries`` session records read from the backend, each kept ``max_age`` seconds (LRU).

    An entry is usable only while it is younger than ``max_age`` (since it was
    last read here), younger than its record's idle timeout and before its
    absolute deadline: never longer than the backend itself would keep the
    session without another read. An ``OrderedDict`` (a put is an insert and a
    move to the end; evicting the oldest is O(1), where a plain dict's first
    key is O(n) to find after many deletions at its front).
    """

    def __init__(self, max_entries: int, max_age: float) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        # session id -> (record, time.monotonic() when read); oldest first.
        self._entries: OrderedDict[str, tuple[SessionRecord, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, session_id: str, record: SessionRecord) -> None:
        """Remember ``record`` as read now (the hot path: an insert, a move, at most one eviction)."""
        entries = self._entries
        entries[session_id] = (record, time.monotonic())
        entries.move_to_end(session_id)
        if len(entries) > self.max_entries:
            entries.popitem(last=False)

    def get(self, session_id: str) -> SessionRecord | None:
        """The record read recently under ``session_id``; None when absent or too old for any bound."""
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        record, read_at = entry
        if time.monotonic() - read_at >= min(self.max_age, record.idle_timeout) or time.time() >= (
            record.absolute_deadline
        ):
            del self._entries[session_id]
            return None
        return record

    def drop(self, session_id: str) -> None:
        """Forget ``session_id`` (ended, regenerated or gone from the backend)."""
        self._entries.pop(session_id, None)

    def drop_user(self, user: str) -> None:
        """Forget every session of ``user`` (logged out everywhere): O(entries), on a rare call."""
        for session_id in [key for key, (record, _) in self._entries.items() if record.user == user]:
            del self._entries[session_id]


class NearCachedSessionRecords:
    """:class:`~sheepfold.sessions.SessionRecords` over the sessions switch, feeding and consulting a near cache.

    On the backend, every record read (and every change this instance writes)
    refreshes its near-cache entry, and every session this instance ends,
    regenerates or finds gone is dropped from it. While the capability is on
    its fallback, a session the fallback does not hold is taken from the near
    cache and adopted by the fallback (through its :class:`SessionJournal`),
    which refuses an id deleted or a user logged out everywhere here during the
    outage; so changes and log-outs made meanwhile work as for any session of
    the outage, except that the replay writes a change to an adopted session
    only if Redis still has it (:attr:`adopted`). While recovering, the backend answers again and is the
    authority (read through): the near cache is not consulted.
    """

    def __init__(self, switch: FallbackSwitch[SessionRecords], near: NearSessionCache) -> None:
        self._switch = switch
        self._records = switch.port
        self._near = near
        #: Ids the fallback adopted from the near cache in this outage: the replay must not restore them blindly.
        self.adopted: set[str] = set()

    async def create(self, session_id: str, record: SessionRecord) -> bool:
        return await self._records.create(session_id, record)

    async def read_and_touch(self, session_id: str) -> SessionRecord | None:
        # Who answered, not the phase: before an outage is confirmed the fallback answers with the phase
        # still "backend", and its miss must neither drop the near entry nor sign the client out.
        record, from_backend = await self._switch.answer_of(self._records.read_and_touch(session_id))
        if from_backend:
            if record is not None:
                self._near.put(session_id, record)
            else:
                self._near.drop(session_id)
            return record
        if record is None and self._switch.phase is not Phase.RECOVERING:
            return self._adopt(session_id)
        return record

    async def write_if_changed(self, session_id: str, data: bytes) -> bool:
        if self._switch.phase is Phase.FALLBACK:
            self._adopt(session_id)
        written, from_backend = await self._switch.answer_of(self._records.write_if_changed(session_id, data))
        if from_backend:
            near = self._near.get(session_id)
            if written and near is not None:
                self._near.put(session_id, near.with_data(data))
            elif not written:
                self._near.drop(session_id)
        return written

    async def regenerate(self, old_id: str, new_id: str, record: SessionRecord) -> bool:
        if self._switch.phase is Phase.FALLBACK:
            self._adopt(old_id)
        self._near.drop(old_id)
        return await self._records.regenerate(old_id, new_id, record)

    async def delete(self, session_id: str) -> bool:
        self._near.drop(session_id)
        return await self._records.delete(session_id)

    async def restore(self, session_id: str, record: SessionRecord) -> None:
        await self._records.restore(session_id, record)

    async def user_sessions(self, user: str) -> dict[str, SessionRecord]:
        return await self._records.user_sessions(user)

    async def end_user_session(self, user: str, session_id: str) -> bool:
        self._near.drop(session_id)
        return await self._records.end_user_session(user, session_id)

    async def end_user_sessions(self, user: str) -> int:
        self._near.drop_user(user)
        return await self._records.end_user_sessions(user)

    async def ping(self) -> None:
        await self._records.ping()

    def _adopt(self, session_id: str) -> SessionRecord | None:
        """The near cache's record of ``session_id``, handed to the fallback; None when unknown or refused."""
        record = self._near.get(session_id)
        if record is None:
            return None
        journal = self._switch.adapter_as(SessionJournal, "fallback")
        if journal is None or self._switch.phase is not Phase.FALLBACK:
            # A fallback without a journal cannot hold it; before the outage is confirmed it must not
            # (the backend may answer again at once, and nothing would empty the fallback): served as read.
            return record
        if journal.knows(session_id):
            return None  # the fallback holds its own record, or deleted this one: not the near cache's to answer
        adopted = journal.adopt(session_id, record)
        if adopted is not None:
            self.adopted.add(session_id)
        return adopted
