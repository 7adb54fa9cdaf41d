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
from dataclasses import dataclass, field
from typing import Annotated, Any

from blacksheep import Request, Response, Router, json
from dynaconf import Validator

from sheepfold import (
    Identity,
    JSONBody,
    Length,
    Namespace,
    Platform,
    json_response,
    problem,
    problem_response,
    route_docs,
)
from sheepfold.cache import ResponseCache
from sheepfold_sessions import UserSessions, sign_in, sign_out

#: The permission the example's moderation needs: granted by the ``moderator`` role (see ``plugin.py``),
#: and, as every permission, by the admin role.
MODERATE = "example.moderate"
_MAX_USER_LENGTH = 64
_MAX_ROLES = 8


@dataclass
class Login:
    """The body of ``POST /example/login``."""

    user: Annotated[str, Length(1, _MAX_USER_LENGTH)]
    roles: Annotated[list[Annotated[str, Length(1, _MAX_USER_LENGTH)]], Length(0, _MAX_ROLES)] = field(
        default_factory=list
    )


@dataclass
class SignedIn:
    user: str | None
    roles: list[str]


@dataclass
class Whoami:
    user: str | None
    roles: list[str]
    may_moderate: bool
    instance: str
    rendered_at: float


@dataclass
class SessionList:
    user: str
    sessions: list[dict[str, Any]]


@dataclass
class Ended:
    ended: int


_SIGN_IN_FIRST = {401: problem_response("Not signed in.")}


def validators() -> list[Validator]:
    return [Validator("example.whoami_ttl", default=30, is_type_of=(int, float), gt=0)]


def add_routes(router: Router, platform: Platform, names: Namespace) -> None:
    """Add the sign-in routes, when ``sheepfold-sessions`` is enabled (they need ``request.session``).

    ``names``: the plugin's namespace; the cached responses live under ``names.key("whoami")``.
    """
    sessions = platform.find(UserSessions)
    if sessions is None:
        return
    responses = ResponseCache.of(platform)

    @route_docs(
        summary="Sign in as the named user, with roles (a demo: no password)",
        responses={200: json_response("Signed in", SignedIn)},
    )
    async def login(request: Request, body: JSONBody[Login]) -> Response:
        user, roles = body.value.user, body.value.roles
        sign_in(platform, request, user, roles)
        return json({"user": user, "roles": sorted(set(roles))})

    @route_docs(summary="Sign out", responses={200: json_response("Signed out", SignedIn)})
    async def logout(request: Request) -> Response:
        sign_out(request)
        return json({"user": None, "roles": []})

    @route_docs(summary="Who you are (cached per identity)", responses={200: json_response("You", Whoami)})
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

    @route_docs(summary="Your sessions", responses={200: json_response("Your sessions", SessionList), **_SIGN_IN_FIRST})
    async def list_sessions(request: Request, identity: Identity) -> Response:
        if identity.subject is None:
            return problem(401, "Sign in first: POST /example/login.")
        found = await sessions.list(identity.subject, current=request.session)
        return json({"user": identity.subject, "sessions": [summary.to_json() for summary in found]})

    @route_docs(
        summary="End all your sessions", responses={200: json_response("How many ended", Ended), **_SIGN_IN_FIRST}
    )
    async def end_sessions(identity: Identity) -> Response:
        if identity.subject is None:
            return problem(401, "Sign in first: POST /example/login.")
        return json({"ended": await sessions.end_all(identity.subject)})

    router.add_post("/example/login", login)
    router.add_post("/example/logout", logout)
    router.add_get(
        "/example/whoami",
        responses.cached(whoami, namespace=names.key("whoami"), ttl=platform.settings.get("example.whoami_ttl")),
    )
    router.add_get("/example/sessions", list_sessions)
    router.add_delete("/example/sessions", end_sessions)
