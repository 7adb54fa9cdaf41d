"""A session's identity (its user as the subject, its ``roles_key`` value as the roles); signing in and out."""

from __future__ import annotations

from collections.abc import Iterable

from blacksheep import Request
from blacksheep.sessions.abc import Session

from sheepfold import Identity, Platform
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


def sign_in(platform: Platform, request: Request, subject: str, roles: Iterable[str] = ()) -> None:
    """Make ``request``'s session belong to ``subject`` with ``roles`` (after you checked their credentials).

    Writes ``sessions.user_key`` and ``sessions.roles_key``, so the settings
    are honoured; the store then gives the session a fresh id when it is
    saved (session fixation). The request's identity was resolved before the
    handler ran: the new identity applies from the next request on.
    """
    settings = platform.require(PlatformSessionStore).settings
    request.session[settings.user_key] = subject
    request.session[settings.roles_key] = sorted(set(roles))


def sign_out(request: Request) -> None:
    """Empty ``request``'s session: the store ends it and removes its cookie when the response is sent."""
    request.session.clear()
