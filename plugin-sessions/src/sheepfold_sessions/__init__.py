"""sheepfold-sessions: server-side sessions behind BlackSheep's ``request.session``.

``request.session`` works as BlackSheep documents it; the store keeps the
values on the ``sessions`` capability (memory, or Redis with memory as the
fallback), the cookie carries only a signed 256-bit id. Handlers that list
or end a user's sessions declare ``sessions: UserSessions``.
"""

from sheepfold_sessions.cookies import CookieSigner, new_session_id, public_handle
from sheepfold_sessions.directory import SessionSummary, UserSessions
from sheepfold_sessions.settings import SessionSettings
from sheepfold_sessions.store import PlatformSession, PlatformSessionStore

__all__ = [
    "CookieSigner",
    "PlatformSession",
    "PlatformSessionStore",
    "SessionSettings",
    "SessionSummary",
    "UserSessions",
    "new_session_id",
    "public_handle",
]
