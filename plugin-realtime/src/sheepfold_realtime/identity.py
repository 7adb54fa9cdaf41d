"""Who a socket (or an admin request) belongs to: the user and roles of its server-side session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from blacksheep import Request

from sheepfold.platform import Platform


@dataclass(frozen=True)
class Identity:
    """A socket's identity, fixed at the handshake: ``user`` (None: anonymous) and ``roles``."""

    user: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    def has_role(self, role: str) -> bool:
        return role in self.roles


ANONYMOUS = Identity()


def identity_of_session(session: Any, roles_key: str) -> Identity:
    """The identity a ``sheepfold-sessions`` session carries; anonymous for anything else.

    Only a session the server issued and still holds counts (``record`` is
    set): its user comes from the stored record, never from a client value.
    """
    record = getattr(session, "record", None)
    if record is None or record.user is None:
        return ANONYMOUS
    roles = session.get(roles_key) or ()
    if isinstance(roles, str):
        roles = (roles,)
    return Identity(record.user, frozenset(role for role in roles if isinstance(role, str)))


async def identity_of(request: Request, platform: Platform, roles_key: str) -> Identity:
    """The identity of a WebSocket handshake (or request), read from its session cookie.

    The session store of ``sheepfold-sessions`` loads the session (one read
    of the session record, refreshing its idle expiry); without that plugin
    every socket is anonymous. Nothing is written back: a socket never
    changes its session.
    """
    try:
        from sheepfold_sessions import PlatformSessionStore
    except ImportError:  # sessions not installed: every socket is anonymous
        return ANONYMOUS
    store = platform.find(PlatformSessionStore)
    if store is None:
        return ANONYMOUS
    return identity_of_session(await store.load(request), roles_key)
