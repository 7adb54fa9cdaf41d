"""Session records while the switch recovers: the fallback first, then the backend, never past a log-out."""

from __future__ import annotations

from sheepfold import BACKEND_FAILURES, Recovery
from sheepfold.sessions import SessionJournal, SessionRecord, SessionRecords


def read_through(recovery: Recovery[SessionRecords]) -> SessionRecords:
    """What serves the sessions capability while it recovers (``switch.serve_while_recovering``).

    The fallback alone when it keeps no :class:`SessionJournal` (it could not
    tell a log-out from a miss); otherwise :class:`ReadThroughSessionRecords`.
    """
    journal = recovery.fallback_as(SessionJournal)
    if journal is None:
        return recovery.fallback
    return ReadThroughSessionRecords(recovery.backend, recovery.fallback, journal)


class ReadThroughSessionRecords:
    """:class:`~sheepfold.sessions.SessionRecords` for the recovering window: nobody looks signed out.

    While the replay runs, the backend answers again but traffic has not
    returned to it. A session the fallback does not hold is read from the
    backend, unless the fallback journaled its deletion or its user's log-out
    everywhere (the replay may not have reached the backend yet), and is
    adopted by the fallback unjournaled; a change to it is then journaled and
    replayed like any other. Every write goes to the fallback, so the replay
    stays the only writer of the backend and traffic returns to it in the
    same event-loop turn as the replay ends. A backend that fails a read here
    is a miss (as it was during the outage); the replay notices the outage.
    """

    def __init__(self, backend: SessionRecords, fallback: SessionRecords, journal: SessionJournal) -> None:
        self._backend = backend
        self._fallback = fallback
        self._journal = journal

    async def _bring(self, session_id: str) -> SessionRecord | None:
        """The fallback's record of ``session_id``, adopted from the backend when only the backend holds it."""
        if self._journal.knows(session_id):
            return None
        try:
            record = await self._backend.read_and_touch(session_id)
        except BACKEND_FAILURES:
            return None
        # Re-checked by adopt: a log-out may have reached the fallback while the backend answered.
        return None if record is None else self._journal.adopt(session_id, record)

    async def create(self, session_id: str, record: SessionRecord) -> bool:
        return await self._fallback.create(session_id, record)

    async def read_and_touch(self, session_id: str) -> SessionRecord | None:
        record = await self._fallback.read_and_touch(session_id)
        return record if record is not None else await self._bring(session_id)

    async def write_if_changed(self, session_id: str, data: bytes) -> bool:
        await self._bring(session_id)
        return await self._fallback.write_if_changed(session_id, data)

    async def regenerate(self, old_id: str, new_id: str, record: SessionRecord) -> bool:
        await self._bring(old_id)
        return await self._fallback.regenerate(old_id, new_id, record)

    async def delete(self, session_id: str) -> bool:
        return await self._fallback.delete(session_id)

    async def restore(self, session_id: str, record: SessionRecord) -> None:
        await self._fallback.restore(session_id, record)

    async def user_sessions(self, user: str) -> dict[str, SessionRecord]:
        found = await self._fallback.user_sessions(user)
        try:
            held = await self._backend.user_sessions(user)
        except BACKEND_FAILURES:
            return found
        for session_id, record in held.items():
            if session_id not in found and not self._journal.knows(session_id):
                adopted = self._journal.adopt(session_id, record)
                if adopted is not None:
                    found[session_id] = adopted
        return found

    async def end_user_session(self, user: str, session_id: str) -> bool:
        await self._bring(session_id)
        return await self._fallback.end_user_session(user, session_id)

    async def end_user_sessions(self, user: str) -> int:
        await self.user_sessions(user)  # adopts the backend's: the count is of the user's sessions everywhere
        return await self._fallback.end_user_sessions(user)

    async def ping(self) -> None:
        await self._fallback.ping()
