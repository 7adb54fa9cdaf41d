"""Who did what from the console: the ``sheepfold.audit`` log, and the checks every action passes first."""

from __future__ import annotations

import logging

from blacksheep import Request

from sheepfold import AdminGuard, Platform
from sheepfold.http.request_fields import origin_is_this_host

#: Actions taken on the platform, one INFO record each: ``extra`` holds ``action``, ``actor`` and the target.
audit = logging.getLogger("sheepfold.audit")


async def actor_of(request: Request, platform: Platform) -> str:
    """Who is acting: the identity's subject (``console:<sign-in id>`` for a console sign-in, a user for an
    admin's session), else ``admin token`` when the request bears it, else ``open admin surface``."""
    identity = await platform.identify(request)
    if identity.subject is not None:
        return identity.subject
    guard = platform.require(AdminGuard)
    if not guard.open and guard.bears_token(request):
        return "admin token"
    return "open admin surface"


def from_another_site(request: Request) -> bool:
    """True when a browser sent ``request`` from a page of another origin (its ``Origin`` names another host).

    Requests without ``Origin`` (scripts, curl) are not from another site; one with an ``Origin`` that is
    not a URL (``http://[::1``) is.
    The console's cookie is ``SameSite=Strict`` already; this is the second lock.
    """
    origin = request.get_first_header(b"origin")
    return origin is not None and not origin_is_this_host(request, origin)
