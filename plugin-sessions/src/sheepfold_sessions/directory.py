"""A user's sessions: list them, end one, end all ("log out everywhere")."""

from __future__ import annotations

from dataclasses import dataclass

from blacksheep.sessions.abc import Session

from sheepfold.sessions.port import SessionRecords
from sheepfold_sessions.cookies import public_handle
from sheepfold_sessions.store import PlatformSession


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One of a user's sessions as the user may see it.

    ``handle`` names the session without revealing its id (a listed id would
    be a stolen session). Times are epoch seconds.
    """

    handle: str
    created_at: float
    absolute_deadline: float
    current: bool

    def to_json(self) -> dict[str, object]:
        return {
            "handle": self.handle,
            "created_at": self.created_at,
            "expires_at": self.absolute_deadline,
            "current": self.current,
        }


class UserSessions:
    """The per-user index of sessions, by public handle. Each call is O(sessions of the user)."""

    def __init__(self, records: SessionRecords) -> None:
        self.records = records

    async def list(self, user: str, current: Session | None = None) -> list[SessionSummary]:
        """``user``'s live sessions, oldest first; ``current`` (the request's session) is marked."""
        current_id = current.id if isinstance(current, PlatformSession) else None
        found = await self.records.user_sessions(user)
        summaries = [
            SessionSummary(
                public_handle(session_id), record.created_at, record.absolute_deadline, session_id == current_id
            )
            for session_id, record in found.items()
        ]
        return sorted(summaries, key=lambda summary: (summary.created_at, summary.handle))

    async def end(self, user: str, handle: str) -> bool:
        """End the session of ``user`` whose handle is ``handle``; False when there is none."""
        for session_id in await self.records.user_sessions(user):
            if public_handle(session_id) == handle:
                return await self.records.end_user_session(user, session_id)
        return False

    async def end_all(self, user: str) -> int:
        """End every session of ``user``; returns how many ended."""
        return await self.records.end_user_sessions(user)
