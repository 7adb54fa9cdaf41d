"""The identity a session carries: its user as the subject, its ``roles_key`` value as the roles."""

from __future__ import annotations

from blacksheep import Request
from blacksheep.sessions.abc import Session

from sheepfold import Identity
from sheepfold_sessions.store import PlatformSession, PlatformSessionStore


def identity_of_session(session: Session, roles_key: str) -> Identity | None:
    """The identity of a session this server issued and still holds; None for any other session.

    The subject is the user recorded with the session (``sessions.user_key``
    when it was saved), never a value the client chose. Roles are the
    strings listed under ``roles_key`` (a single string counts as one role).
    """
    if not isinstance(session, PlatformSession) or session.record is None or session.record.user is None:
        return None
    roles = session.get(roles_key) or ()
    if isinstance(roles, str):
        roles = (roles,)
    return Identity(session.record.user, (role for role in roles if isinstance(role, str)))


async def identity_of_handshake(store: PlatformSessionStore, request: Request) -> Identity | None:
    """The identity of a request the session middleware did not see (a WebSocket handshake).

    Loads its session: one read of the session record, which refreshes its
    idle expiry. Nothing is written back.
    """
    return identity_of_session(await store.load(request), store.settings.roles_key)
