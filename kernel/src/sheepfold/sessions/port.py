"""The session-record port: server-side session records, one atomic operation per call."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What the store keeps under one session id.

    ``data`` is the session's encoded values (the port never looks inside).
    ``user`` is who the session belongs to (None: anonymous); the per-user
    index is kept by it. ``idle_timeout`` is seconds without a read before the
    record expires; ``absolute_deadline`` (epoch seconds) is when it expires
    whatever happens. ``created_at`` (epoch seconds) is for listing only.
    """

    data: bytes
    user: str | None
    idle_timeout: float
    absolute_deadline: float
    created_at: float

    def ttl(self, now: float) -> float:
        """Seconds the record lives from ``now`` if nothing reads it: the idle timeout, never past the deadline."""
        return min(self.idle_timeout, self.absolute_deadline - now)

    def with_data(self, data: bytes) -> SessionRecord:
        return replace(self, data=data)


@runtime_checkable
class SessionRecords(Protocol):
    """Session records under ids that the caller generates, with a per-user index.

    Every change to a record is one atomic step on the backend (one script
    on Redis), so two instances serving the same session never see half a
    record. The per-user index may be kept in steps of its own (on a Redis
    Cluster a session and its user's index live on different nodes): an
    adapter then adds an entry before the record exists and removes it
    after the record is gone, so a live session is always listed, and
    listings skip entries whose record is gone or belongs to someone else.
    No method resurrects a record that expired or was deleted:
    :meth:`write_if_changed` and :meth:`regenerate` answer False instead.
    Ids and users are opaque strings. Adapters raise
    :class:`~sheepfold.errors.BackendUnavailable` when the backend is down.
    """

    async def create(self, session_id: str, record: SessionRecord) -> bool:
        """Store a new record; False (and nothing stored) when ``session_id`` is already taken."""
        ...

    async def read_and_touch(self, session_id: str) -> SessionRecord | None:
        """The record, its idle expiry refreshed (never past its absolute deadline); None when absent or expired."""
        ...

    async def write_if_changed(self, session_id: str, data: bytes) -> bool:
        """Replace the record's data (a no-op when equal) and touch it; False when the record is gone."""
        ...

    async def regenerate(self, old_id: str, new_id: str, record: SessionRecord) -> bool:
        """Move a session to ``new_id`` holding ``record`` and drop ``old_id``.

        False (and nothing changed) when ``old_id`` is gone or ``new_id`` is taken. An
        adapter that cannot do it in one step stores the new record first, then drops
        the old one, and drops the new one again if the old one was gone.
        The per-user index follows (old user's entry out, new user's in).
        """
        ...

    async def delete(self, session_id: str) -> bool:
        """Remove a record and its index entry; True when it existed."""
        ...

    async def restore(self, session_id: str, record: SessionRecord) -> None:
        """Store ``record`` under ``session_id``, replacing what is there (replaying an outage's changes)."""
        ...

    async def user_sessions(self, user: str) -> dict[str, SessionRecord]:
        """Every live session of ``user``, by id (O(sessions of the user))."""
        ...

    async def end_user_session(self, user: str, session_id: str) -> bool:
        """Delete ``session_id`` if it belongs to ``user``; True when it did."""
        ...

    async def end_user_sessions(self, user: str) -> int:
        """Delete every session of ``user`` ("log out everywhere"); returns how many ended."""
        ...

    async def ping(self) -> None:
        """Raise unless the backend can serve calls."""
        ...
