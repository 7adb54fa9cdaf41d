"""Signing a test's client in with roles: through ``sheepfold-sessions`` when the app has it, else a header.

:data:`plugin` is added to every app the kit builds (never to a served
production app: it is no entry point). With the sessions plugin in the app,
``POST /_testing/sign-in?subject=alice&roles=admin,moderator`` signs the
session in with :func:`sheepfold_sessions.sign_in`, and the test sends the
session cookie it gets back: the identity is resolved exactly as in
production. Without it, the kit's ``sheepfold_identity_from_request`` reads
:data:`IDENTITY_HEADER` (``alice;admin,moderator``, or ``alice`` without roles).
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

from blacksheep import Request, Response, Router

from sheepfold.hookspecs import hookimpl
from sheepfold.identity import Identity
from sheepfold.platform import Platform

SIGN_IN_PATH = "/_testing/sign-in"
#: ``subject;role,role``: who a request is made by, in an app of the kit without the sessions plugin.
IDENTITY_HEADER = "X-Sheepfold-Test-Identity"


def identity_header(subject: str, roles: tuple[str, ...] = ()) -> dict[str, str]:
    """The header that makes a request of a kit-built app (without sessions) be ``subject`` with ``roles``."""
    return {IDENTITY_HEADER: f"{subject};{','.join(roles)}" if roles else subject}


def _parse(value: str) -> Identity:
    subject, _, roles = value.partition(";")
    return Identity(subject.strip(), roles=[role.strip() for role in roles.split(",") if role.strip()])


@hookimpl
def sheepfold_identity_from_request(request: Request, platform: Platform) -> Identity | None:
    header = request.get_first_header(IDENTITY_HEADER.encode())
    return _parse(header.decode()) if header else None


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    async def sign_in(request: Request) -> Response:
        if importlib.util.find_spec("sheepfold_sessions") is None:
            return Response(404)
        from sheepfold_sessions import PlatformSessionStore
        from sheepfold_sessions import sign_in as sessions_sign_in

        if platform.find(PlatformSessionStore) is None:
            return Response(404)  # the sessions plugin is installed but not in this app
        subject = request.query["subject"][0]
        roles = [role for role in request.query.get("roles", [""])[0].split(",") if role]
        sessions_sign_in(platform, request, subject, roles)
        return Response(204)

    router.add_post(SIGN_IN_PATH, sign_in)


#: The kit's plugin, as ``create_app(plugins=[...])`` takes it.
plugin = SimpleNamespace(
    name="sheepfold-testing",
    sheepfold_identity_from_request=sheepfold_identity_from_request,
    sheepfold_register_routes=sheepfold_register_routes,
)
