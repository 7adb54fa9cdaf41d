"""One identity per request (``sheepfold_identity_from_request``) and one permission check (``platform.allowed``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from blacksheep import Request, Response, Router, json
from blacksheep.testing import TestClient

from sheepfold import Identity, PluginError, create_app, hookimpl
from sheepfold.identity import ADMIN, ANONYMOUS


def test_an_identity_is_immutable_and_an_anonymous_one_holds_no_roles():
    alice = Identity("alice", ["admin"], {"tenant": "t1"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        alice.subject = "mallory"  # type: ignore[misc]
    with pytest.raises(TypeError):
        alice.attributes["tenant"] = "t2"  # type: ignore[index]
    assert alice == Identity("alice", {"admin"}) and alice.has_role("admin") and not alice.anonymous
    assert Identity() == ANONYMOUS and ANONYMOUS.anonymous
    with pytest.raises(ValueError):
        Identity(None, ["admin"])
    with pytest.raises(ValueError):
        Identity("")


class HeaderIdentity:
    """``X-Subject: name`` (and ``X-Roles: a,b``) is the caller; counts how often it is asked."""

    name = "header_identity"

    def __init__(self) -> None:
        self.asked = 0

    @hookimpl
    async def sheepfold_identity_from_request(self, request: Request) -> Identity | None:
        self.asked += 1
        subject = request.get_first_header(b"x-subject")
        if subject is None:
            return None
        roles = (request.get_first_header(b"x-roles") or b"").decode()
        return Identity(subject.decode(), [role for role in roles.split(",") if role])


class WhoRoutes:
    name = "who_routes"

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Any) -> None:
        async def who(request: Request, identity: Identity) -> Response:
            again = await platform.identify(request)
            return json(
                {"subject": identity.subject, "same": again is identity, "admin": platform.allowed(identity, ADMIN)}
            )

        router.add_get("/who", who)


async def started(*plugins: object, **settings: Any) -> Any:
    app = create_app(settings, plugins=list(plugins), load_entry_points=False)
    await app.start()
    return app


async def test_hook_identity_from_request_is_asked_once_per_request_and_reaches_handlers_by_type():
    header = HeaderIdentity()
    app = await started(header, WhoRoutes())
    try:
        client = TestClient(app)
        response = await client.get("/who", headers={"X-Subject": "alice", "X-Roles": "admin"})
        assert await response.json() == {"subject": "alice", "same": True, "admin": True}
        assert header.asked == 1
        anonymous = await (await client.get("/who")).json()
        assert anonymous == {"subject": None, "same": True, "admin": False}
    finally:
        await app.stop()


async def test_hook_identity_from_request_first_answer_wins_in_call_order():
    class Token:
        name = "token"

        @hookimpl(tryfirst=True)
        def sheepfold_identity_from_request(self, request: Request, platform: Any) -> Identity | None:
            assert platform is app.platform
            token = request.get_first_header(b"authorization")
            return Identity("token-client") if token else None

    header = HeaderIdentity()
    app = await started(header, Token(), WhoRoutes())
    try:
        client = TestClient(app)
        both = {"X-Subject": "alice", "Authorization": "Bearer t"}
        assert (await (await client.get("/who", headers=both)).json())["subject"] == "token-client"
        assert header.asked == 0  # not asked once an earlier plugin answered
        assert (await (await client.get("/who", headers={"X-Subject": "alice"})).json())["subject"] == "alice"
    finally:
        await app.stop()


async def test_hook_identity_from_request_answering_something_else_names_the_plugin():
    class Wrong:
        name = "wrong_identity"

        @hookimpl
        def sheepfold_identity_from_request(self) -> object:
            return "alice"

    app = create_app({}, plugins=[Wrong()], load_entry_points=False)
    with pytest.raises(PluginError, match=r"wrong_identity.*not an Identity"):
        await app.platform.identify(Request("GET", b"/", []))


class Editors:
    """Editors may ``doc.edit``; nobody may ``doc.burn`` (not even an admin)."""

    name = "editors"

    @hookimpl
    def sheepfold_permission_allowed(self, identity: Identity, action: str, resource: str | None) -> bool | None:
        if action == "doc.burn":
            return False
        if action == "doc.edit" and identity.has_role("editor"):
            return resource != "locked"
        return None


def test_hook_permission_allowed_precedence_plugins_first_then_the_admin_default_then_refusal():
    platform = create_app({}, plugins=[Editors()], load_entry_points=False).platform
    admin, editor, reader = Identity("a", ["admin"]), Identity("e", ["editor"]), Identity("r")
    assert platform.allowed(editor, "doc.edit") and not platform.allowed(editor, "doc.edit", "locked")
    assert not platform.allowed(reader, "doc.edit")  # nobody answered: refused
    assert platform.allowed(admin, "doc.edit") and platform.allowed(admin, ADMIN)  # the admin default
    assert not platform.allowed(admin, "doc.burn")  # a plugin's False comes before the default
    assert not platform.allowed(ANONYMOUS, ADMIN)


def test_hook_permission_allowed_tryfirst_overrides_and_the_admin_role_is_a_setting():
    class Lockdown:
        name = "lockdown"

        @hookimpl(tryfirst=True)
        def sheepfold_permission_allowed(self, action: str) -> bool | None:
            return False if action == "doc.edit" else None

    platform = create_app(
        {"permissions": {"admin_role": "root"}}, plugins=[Editors(), Lockdown()], load_entry_points=False
    ).platform
    assert not platform.allowed(Identity("e", ["editor"]), "doc.edit")
    assert platform.allowed(Identity("r", ["root"]), ADMIN) and not platform.allowed(Identity("a", ["admin"]), ADMIN)


def test_hook_permission_allowed_answering_something_else_names_the_plugin():
    class Vague:
        name = "vague"

        @hookimpl
        def sheepfold_permission_allowed(self) -> object:
            return "yes"

    platform = create_app({}, plugins=[Vague()], load_entry_points=False).platform
    with pytest.raises(PluginError, match=r"vague.*not True, False or None"):
        platform.allowed(ANONYMOUS, "anything")


async def test_blacksheep_authentication_is_an_identity_source_after_every_plugin():
    from blacksheep.server.application import MiddlewareCategory
    from guardpost import Identity as BlackSheepIdentity

    class Authenticated:
        name = "authenticated"

        @hookimpl
        def sheepfold_configure_app(self, app: Any) -> None:
            async def authenticate(request: Request, handler: Any) -> Response:
                request.user = BlackSheepIdentity({"sub": "jwt-user", "roles": ["admin"]}, "test")
                return await handler(request)

            app.middlewares.append(authenticate, MiddlewareCategory.AUTH)

    app = await started(Authenticated(), WhoRoutes())
    try:
        assert await (await TestClient(app).get("/who")).json() == {"subject": "jwt-user", "same": True, "admin": True}
    finally:
        await app.stop()
