"""The example's demo sign-in: login with roles, whoami cached per identity, permissions, sessions, logout."""

from __future__ import annotations

import pytest
from blacksheep.contents import JSONContent

import sheepfold_example.plugin as example
import sheepfold_sessions.plugin as sessions

SECRET = "example-test-secret-0123456789abcdefghij"


@pytest.fixture
async def client(sheepfold_app):
    # sheepfold_app: the kit's factory (sheepfold.testing); the app is stopped after the test.
    return (await sheepfold_app({"sessions": {"secret": SECRET}}, plugins=[sessions, example])).client


def session_cookie(response) -> dict[str, str]:
    name, _, value = response.headers.get_first(b"set-cookie").decode().split(";")[0].partition("=")
    return {name: value}


async def test_login_whoami_sessions_and_logout(client):
    login = await client.post("/example/login", content=JSONContent({"user": "alice"}))
    assert await login.json() == {"user": "alice", "roles": []}
    cookies = session_cookie(login)
    first = await client.get("/example/whoami", cookies=cookies)
    second = await client.get("/example/whoami", cookies=cookies)
    assert (await first.json())["user"] == "alice"
    assert [first.headers.get_first(b"x-sheepfold-cache"), second.headers.get_first(b"x-sheepfold-cache")] == [
        b"miss",
        b"hit",
    ]
    listed = await (await client.get("/example/sessions", cookies=cookies)).json()
    assert listed["user"] == "alice" and len(listed["sessions"]) == 1
    await client.post("/example/logout", cookies=cookies)
    assert (await (await client.get("/example/whoami", cookies=cookies)).json())["user"] is None
    assert (await client.get("/example/sessions", cookies=cookies)).status == 401


async def test_login_with_roles_gives_the_identity_those_roles_and_their_permissions(client):
    answers = {}
    for user, roles in [("mo", ["moderator"]), ("root", ["admin"]), ("rita", [])]:
        login = await client.post("/example/login", content=JSONContent({"user": user, "roles": roles}))
        answers[user] = await (await client.get("/example/whoami", cookies=session_cookie(login))).json()
    assert [answers["mo"]["roles"], answers["root"]["roles"], answers["rita"]["roles"]] == [
        ["moderator"],
        ["admin"],
        [],
    ]
    # moderator: the example's own permission hook; admin: the kernel's default; neither: refused.
    assert [answers[user]["may_moderate"] for user in ("mo", "root", "rita")] == [True, True, False]


@pytest.mark.parametrize(
    "body", [{"user": "alice", "roles": "admin"}, {"user": "a", "roles": [1]}, {"user": "a", "roles": ["r"] * 9}]
)
async def test_login_with_bad_roles_is_a_422_naming_the_field(client, body):
    response = await client.post("/example/login", content=JSONContent(body))
    assert response.status == 422
    assert all(error["field"].startswith("roles") for error in (await response.json())["errors"])


async def test_login_without_a_user_name_is_a_422_naming_the_field(client):
    response = await client.post("/example/login", content=JSONContent({"name": "alice"}))
    assert response.status == 422
    assert (await response.json())["errors"] == [
        {"field": "user", "problem": "is required"},
        {"field": "name", "problem": "is not a known field"},
    ]


async def test_without_the_sessions_plugin_the_demo_routes_are_absent(sheepfold_app):
    kit = await sheepfold_app(plugins=[example])
    assert (await kit.client.get("/example/whoami")).status == 404
