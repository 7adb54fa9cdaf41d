"""Sign-in and sessions, the way a plugin author uses ``request.session`` and the response cache.

A DEMO, NOT AUTHENTICATION: ``POST /example/login`` signs in whoever is named
in the body, without a password, to show sessions and caching; a real
application checks credentials first. The routes:

- ``POST /example/login`` with ``{"user": "alice"}``: the session's user is
  set; ``sheepfold-sessions`` gives the session a new id by itself.
- ``POST /example/logout``: the session is emptied (and ended).
- ``GET /example/whoami``: who you are, cached per user for
  ``example.whoami_ttl`` seconds (``X-Sheepfold-Cache`` says hit or miss).
- ``GET /example/sessions``: your sessions (``401`` when signed out);
  ``DELETE /example/sessions`` ends them all ("log out everywhere").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from blacksheep import Request, Response, Router, json
from dynaconf import Validator

from sheepfold import JSONBody, Length, Platform, json_response, problem, problem_response, route_docs
from sheepfold.cache import ResponseCache
from sheepfold_sessions import UserSessions

USER_KEY = "user"
_MAX_USER_LENGTH = 64


@dataclass
class Login:
    """The body of ``POST /example/login``."""

    user: Annotated[str, Length(1, _MAX_USER_LENGTH)]


@dataclass
class SignedIn:
    user: str | None


@dataclass
class Whoami:
    user: str | None
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


def add_routes(router: Router, platform: Platform) -> None:
    """Add the sign-in routes, when ``sheepfold-sessions`` is enabled (they need ``request.session``)."""
    sessions = platform.find(UserSessions)
    if sessions is None:
        return
    responses = ResponseCache.of(platform)

    @route_docs(
        summary="Sign in as the named user (a demo: no password)", responses={200: json_response("Signed in", SignedIn)}
    )
    async def login(request: Request, body: JSONBody[Login]) -> Response:
        request.session[USER_KEY] = body.value.user
        return json({"user": body.value.user})

    @route_docs(summary="Sign out", responses={200: json_response("Signed out", SignedIn)})
    async def logout(request: Request) -> Response:
        request.session.clear()
        return json({"user": None})

    @route_docs(summary="Who the session belongs to (cached per user)", responses={200: json_response("You", Whoami)})
    async def whoami(request: Request) -> Response:
        user = request.session.get(USER_KEY)
        return json({"user": user, "instance": platform.instance_id, "rendered_at": time.time()})

    @route_docs(summary="Your sessions", responses={200: json_response("Your sessions", SessionList), **_SIGN_IN_FIRST})
    async def list_sessions(request: Request) -> Response:
        user = request.session.get(USER_KEY)
        if user is None:
            return problem(401, "Sign in first: POST /example/login.")
        found = await sessions.list(user, current=request.session)
        return json({"user": user, "sessions": [summary.to_json() for summary in found]})

    @route_docs(
        summary="End all your sessions", responses={200: json_response("How many ended", Ended), **_SIGN_IN_FIRST}
    )
    async def end_sessions(request: Request) -> Response:
        user = request.session.get(USER_KEY)
        if user is None:
            return problem(401, "Sign in first: POST /example/login.")
        return json({"ended": await sessions.end_all(user)})

    router.add_post("/example/login", login)
    router.add_post("/example/logout", logout)
    router.add_get(
        "/example/whoami",
        responses.cached(whoami, namespace="example-whoami", ttl=platform.settings.get("example.whoami_ttl")),
    )
    router.add_get("/example/sessions", list_sessions)
    router.add_delete("/example/sessions", end_sessions)
