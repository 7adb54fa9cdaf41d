"""``Identity``: who a request is made by, as one immutable value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True, init=False)
class Identity:
    """Who a request (or a WebSocket) is made by, resolved once per request.

    ``subject`` is the caller's stable id (a user id, an API client's id), or
    None for an anonymous caller. ``roles`` are the names of the roles it
    holds (``{"admin"}``); an anonymous identity holds none. ``attributes``
    carry whatever else the resolving plugin knows (a tenant, a token's
    scopes); they are read-only. Compare identities by ``subject`` and
    ``roles``; ``attributes`` take no part in equality or hashing.

    Build one with ``Identity("alice", roles={"admin"})``; :data:`ANONYMOUS`
    is the identity of a caller nobody recognised.
    """

    subject: str | None
    roles: frozenset[str]
    attributes: Mapping[str, Any] = field(compare=False, hash=False)

    def __init__(
        self, subject: str | None = None, roles: Iterable[str] = (), attributes: Mapping[str, Any] | None = None
    ) -> None:
        if subject == "":
            raise ValueError("an identity's subject is a non-empty string, or None for anonymous")
        frozen_roles = frozenset(roles)
        if subject is None and frozen_roles:
            raise ValueError("an anonymous identity holds no roles")
        if not all(isinstance(role, str) for role in frozen_roles):
            raise TypeError("roles are strings")
        # Frozen: the dataclass' own __setattr__ refuses, so set through object's.
        object.__setattr__(self, "subject", subject)
        object.__setattr__(self, "roles", frozen_roles)
        object.__setattr__(self, "attributes", MappingProxyType(dict(attributes)) if attributes else _NO_ATTRIBUTES)

    @property
    def anonymous(self) -> bool:
        """True when nobody recognised the caller (``subject`` is None)."""
        return self.subject is None

    def has_role(self, role: str) -> bool:
        """True when the identity holds ``role``."""
        return role in self.roles


#: The identity of a caller no plugin recognised.
ANONYMOUS = Identity()
