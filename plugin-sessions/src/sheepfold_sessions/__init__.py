"""sheepfold-sessions: server-side sessions behind BlackSheep's ``request.session``.

``request.session`` works as BlackSheep documents it; the store keeps the
values on the ``sessions`` capability (memory, or Redis with memory as the
fallback), the cookie carries only a signed 256-bit id. Handlers that list
or end a user's sessions declare ``sessions: UserSessions``. The plugin
answers ``sheepfold_identity_from_request`` from the session (subject:
``sessions.user_key``, roles: ``sessions.roles_key``); :func:`sign_in` and
:func:`sign_out` write those keys.
"""

from sheepfold_sessions.cookies import CookieSigner, new_session_id, public_handle
from sheepfold_sessions.directory import SessionSummary, UserSessions
from sheepfold_sessions.identity import sign_in, sign_out
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
    "sign_in",
    "sign_out",
]
