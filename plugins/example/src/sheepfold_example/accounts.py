"""Sign-in with roles and sessions, the way a plugin author uses identity, permissions and the response cache.

A DEMO, NOT AUTHENTICATION: ``POST /example/login`` signs in whoever is named
in the body, with whatever roles it lists, without a password, to show
identity, permissions, sessions and caching; a real application checks
credentials first. The routes:

- ``POST /example/login`` with ``{"user": "alice", "roles": ["admin"]}``
  (``roles`` optional): :func:`sheepfold_sessions.sign_in` sets the session's
  user and roles (``sessions.user_key``, ``sessions.roles_key``), and
  ``sheepfold-sessions`` gives the session a new id by itself. From the next
  request on, the request's :class:`~sheepfold.Identity` is that user with
  those roles: rate limits count per user, cached responses are per user,
  realtime lets an ``admin`` join the ``admin`` channel.
- ``POST /example/logout``: the session is emptied (and ended).
- ``GET /example/whoami``: your identity (subject, roles) and whether you may
  ``example.moderate``, cached per identity for ``example.whoami_ttl`` seconds
  (``X-Sheepfold-Cache`` says hit or miss).
- ``GET /example/sessions``: your sessions (``401`` when signed out);
  ``DELETE /example/sessions`` ends them all ("log out everywhere").
"""

from __future__ import annotations

import time

from blacksheep import Request, Response, Router, json
from dynaconf import Validator

from sheepfold import Identity, Platform, problem
from sheepfold.cache import ResponseCache
from sheepfold_sessions import UserSessions, sign_in, sign_out

#: The permission the example's moderation needs: granted by the ``moderator`` role (see ``plugin.py``),
#: and, as every permission, by the admin role.
MODERATE = "example.moderate"
_MAX_USER_LENGTH = 64
_MAX_ROLES = 8


def validators() -> list[Validator]:
    return [Validator("example.whoami_ttl", default=30, is_type_of=(int, float), gt=0)]


def add_routes(router: Router, platform: Platform) -> None:
    """Add the sign-in routes, when ``sheepfold-sessions`` is enabled (they need ``request.session``)."""
    sessions = platform.find(UserSessions)
    if sessions is None:
        return
    responses = ResponseCache.of(platform)

    async def login(request: Request) -> Response:
        body = await request.json() if request.declares_json() else None
        user = body.get("user") if isinstance(body, dict) else None
        roles = body.get("roles", []) if isinstance(body, dict) else []
        if not isinstance(user, str) or not 0 < len(user) <= _MAX_USER_LENGTH:
            return problem(400, f'Send {{"user": "<name>"}} with a name of 1 to {_MAX_USER_LENGTH} characters.')
        if not isinstance(roles, list) or len(roles) > _MAX_ROLES or not all(_is_name(role) for role in roles):
            return problem(
                400, f'"roles" is a list of at most {_MAX_ROLES} names of 1 to {_MAX_USER_LENGTH} characters.'
            )
        sign_in(platform, request, user, roles)
        return json({"user": user, "roles": sorted(set(roles))})

    async def logout(request: Request) -> Response:
        sign_out(request)
        return json({"user": None})

    async def whoami(identity: Identity) -> Response:
        # `identity` arrives by type, resolved once for the request (here: from the session).
        return json(
            {
                "user": identity.subject,
                "roles": sorted(identity.roles),
                "may_moderate": platform.allowed(identity, MODERATE),
                "instance": platform.instance_id,
                "rendered_at": time.time(),
            }
        )

    async def list_sessions(request: Request, identity: Identity) -> Response:
        if identity.subject is None:
            return problem(401, "Sign in first: POST /example/login.")
        found = await sessions.list(identity.subject, current=request.session)
        return json({"user": identity.subject, "sessions": [summary.to_json() for summary in found]})

    async def end_sessions(identity: Identity) -> Response:
        if identity.subject is None:
            return problem(401, "Sign in first: POST /example/login.")
        return json({"ended": await sessions.end_all(identity.subject)})

    router.add_post("/example/login", login)
    router.add_post("/example/logout", logout)
    router.add_get(
        "/example/whoami",
        responses.cached(whoami, namespace="example-whoami", ttl=platform.settings.get("example.whoami_ttl")),
    )
    router.add_get("/example/sessions", list_sessions)
    router.add_delete("/example/sessions", end_sessions)


def _is_name(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_USER_LENGTH
