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

from blacksheep import Request, Response, Router, json
from dynaconf import Validator

from sheepfold import Platform, problem
from sheepfold.cache import ResponseCache
from sheepfold_sessions import UserSessions

USER_KEY = "user"
_MAX_USER_LENGTH = 64


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
        if not isinstance(user, str) or not 0 < len(user) <= _MAX_USER_LENGTH:
            return problem(400, f'Send {{"user": "<name>"}} with a name of 1 to {_MAX_USER_LENGTH} characters.')
        request.session[USER_KEY] = user
        return json({"user": user})

    async def logout(request: Request) -> Response:
        request.session.clear()
        return json({"user": None})

    async def whoami(request: Request) -> Response:
        user = request.session.get(USER_KEY)
        return json({"user": user, "instance": platform.instance_id, "rendered_at": time.time()})

    async def list_sessions(request: Request) -> Response:
        user = request.session.get(USER_KEY)
        if user is None:
            return problem(401, "Sign in first: POST /example/login.")
        found = await sessions.list(user, current=request.session)
        return json({"user": user, "sessions": [summary.to_json() for summary in found]})

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
