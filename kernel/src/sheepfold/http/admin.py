"""The admin token that guards introspection routes."""

from __future__ import annotations

import hmac

from blacksheep import Request

from sheepfold.platform import Platform


def is_admin(request: Request, platform: Platform) -> bool:
    """True when no ``admin.token`` is set, or the request carries it as a Bearer token.

    The comparison takes constant time, so response timing reveals nothing of the token.
    """
    token = platform.settings.get("admin.token") or ""
    if not token:
        return True
    header = request.get_first_header(b"authorization") or b""
    scheme, _, presented = header.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(), str(token).encode())
