"""Routes onto ``request.session``, an app around them, and a client that keeps the session cookie."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any

from blacksheep import Content, Request, Response, Router
from blacksheep import json as json_response
from blacksheep.testing import TestClient

import sheepfold_sessions.plugin as sessions_plugin
from sheepfold import PlatformApplication, create_app, hookimpl
from sheepfold_sessions import UserSessions

SECRET = "a-test-secret-of-more-than-32-characters"


class SessionRoutes:
    """``GET /read`` reads only; ``POST /set/{key}`` stores the JSON body; login, logout, roles, sessions."""

    name = "session_routes_for_tests"

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Any) -> None:
        directory = platform.require(UserSessions)

        async def read(request: Request) -> Response:
            return json_response(request.session.to_dict())

        async def set_value(request: Request, key: str) -> Response:
            request.session[key] = json.loads(await request.read() or b"null")
            return json_response(request.session.to_dict())

        async def login(request: Request, user: str) -> Response:
            request.session["user"] = user
            return json_response({"user": user})

        async def logout(request: Request) -> Response:
            request.session.clear()
            return json_response({"user": None})

        async def list_sessions(request: Request) -> Response:
            found = await directory.list(request.session["user"], current=request.session)
            return json_response([summary.to_json() for summary in found])

        async def end_session(request: Request, handle: str) -> Response:
            return json_response({"ended": await directory.end(request.session["user"], handle)})

        async def end_all(request: Request) -> Response:
            return json_response({"ended": await directory.end_all(request.session["user"])})

        router.add_get("/read", read)
        router.add_post("/set/{key}", set_value)
        router.add_post("/login/{user}", login)
        router.add_post("/logout", logout)
        router.add_get("/sessions", list_sessions)
        router.add_delete("/sessions/{handle}", end_session)
        router.add_delete("/sessions", end_all)


def session_app(sessions: dict[str, Any] | None = None, *plugins: object, **settings: Any) -> PlatformApplication:
    """An app with the sessions plugin, the routes above and ``plugins``; ``sessions`` overrides ``[sessions]``."""
    return create_app(
        {"sessions": {"secret": SECRET, **(sessions or {})}, **settings},
        plugins=[sessions_plugin, SessionRoutes(), *plugins],
        load_entry_points=False,
    )


def set_cookies(response: Response) -> dict[str, SimpleCookie]:
    """The response's Set-Cookie headers, parsed, by cookie name."""
    found = {}
    for header in response.headers.get(b"set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header.decode())
        for name in cookie:
            found[name] = cookie
    return found


class Browser:
    """A client that stores the session cookie it is sent and sends it back, as a browser does."""

    def __init__(self, app: PlatformApplication, cookie_name: str = "__Host-session") -> None:
        self.client = TestClient(app)
        self.cookie_name = cookie_name
        self.cookie: str | None = None

    async def request(self, method: str, path: str, body: Any = None) -> Response:
        cookies = {self.cookie_name: self.cookie} if self.cookie else None
        call = getattr(self.client, method.lower())
        if body is None:
            response = await call(path, cookies=cookies)
        else:
            response = await call(
                path, cookies=cookies, content=Content(b"application/json", json.dumps(body).encode())
            )
        sent = set_cookies(response).get(self.cookie_name)
        if sent is not None:
            morsel = sent[self.cookie_name]
            self.cookie = None if morsel["max-age"] == "0" else morsel.value
        return response
