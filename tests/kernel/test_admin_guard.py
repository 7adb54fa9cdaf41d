"""The admin surface is closed by default: one guard serves every admin route, of the kernel and of every plugin."""

from __future__ import annotations

import logging
import re

import pytest
from blacksheep import Request, Response, json
from blacksheep.testing import TestClient

from sheepfold import Identity, PluginError, SettingsError, admin_only, create_app
from sheepfold.http import admin as admin_http
from sheepfold.http.admin import (
    MIN_TOKEN_LENGTH,
    AdminGuardMiddleware,
    AdminRoute,
    admin_route_of,
    is_admin_path,
)
from tests.kernel.plugins_for_tests import plugin
from tests.support.admin import ADMIN_HEADERS, ADMIN_TOKEN
from tests.support.plugins import installed

PROBLEM_JSON = b"application/problem+json"
#: Routes that must be part of the admin surface whatever else is installed (the issue's list), by the
#: package that serves them (None: the kernel).
KNOWN_ADMIN_ROUTES = {
    None: {("GET", "/-/plugins"), ("GET", "/metrics"), ("GET", "/-/fleet"), ("GET", "/-/fleet/self")},
    "sheepfold_jobs": {
        ("GET", "/-/jobs"),
        ("GET", "/-/jobs/failed"),
        ("GET", "/-/jobs/failed/{job_id}"),
        ("POST", "/-/jobs/failed/{job_id}/retry"),
        ("POST", "/-/jobs/failed/{job_id}/discard"),
    },
    "sheepfold_console": {
        ("GET", "/-/console"),
        ("GET", "/-/console/api/snapshot"),
        ("POST", "/-/console/api/jobs/failed/{job_id}/retry"),
        ("POST", "/-/console/api/jobs/failed/{job_id}/discard"),
        ("POST", "/-/console/sign-out"),
    },
    "sheepfold_realtime": {("POST", "/realtime/publish"), ("GET", "/realtime/sockets")},
}


def _sent_to_sign_in(response) -> bool:
    """A browser's refusal on a page declared with ``admin_only(sign_in=...)``: 303 to the sign-in page."""
    return response.status == 303 and b"?next=" in (response.headers.get_first(b"location") or b"")


def _concrete(pattern: str) -> str:
    return re.sub(r"\{[^}]*\}", "no-such-id", pattern)


def _admin_routes(app) -> list[tuple[str, str]]:
    found = []
    for method, route in app.router.iter_with_methods():
        pattern = route.pattern.decode()
        if is_admin_path(pattern) or admin_route_of(route.handler) is not None:
            found.append((method, pattern))
    return sorted(found)


async def test_every_admin_route_of_every_plugin_refuses_a_request_without_the_token():
    app = create_app()  # every installed plugin, the testing environment: closed, with its token
    await app.start()
    try:
        client = TestClient(app)
        routes = _admin_routes(app)
        # Where plugins are installed alone (.ci/isolated), the routes of the ones installed.
        known = {
            route
            for package, served in KNOWN_ADMIN_ROUTES.items()
            if not package or installed(package)
            for route in served
        }
        assert set(routes) >= known
        for method, pattern in routes:
            path = _concrete(pattern)
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": ADMIN_TOKEN},  # the token without its scheme
            ):
                refused = await getattr(client, method.lower())(path, headers=headers)
                if _sent_to_sign_in(refused):  # a page: the kit's client accepts text/html, as browsers do
                    continue
                assert refused.status in (401, 403), (method, pattern, headers)
                assert refused.content_type() == PROBLEM_JSON, (method, pattern)
            admitted = await getattr(client, method.lower())(path, headers=ADMIN_HEADERS)
            assert admitted.status not in (401, 403), (method, pattern)
    finally:
        await app.stop()


async def test_the_health_details_need_the_token_and_the_status_does_not():
    app = create_app(load_entry_points=False)
    await app.start()
    client = TestClient(app)
    assert await (await client.get("/health")).json() == {"status": "ok"}
    assert "components" in await (await client.get("/health", headers=ADMIN_HEADERS)).json()
    await app.stop()


def test_a_plugin_route_on_the_admin_surface_without_the_guard_stops_start_up():
    def routes(router):
        async def peek() -> Response:
            return json({"secrets": "all of them"})

        router.add_get("/-/peek", peek)

    with pytest.raises(PluginError, match=r"/-/peek .*not declared with admin_only"):
        create_app(plugins=[plugin("leaky", sheepfold_register_routes=routes)], load_entry_points=False)


async def test_a_route_declared_admin_only_admits_the_token_or_an_identity_allowed_its_action():
    def routes(router):
        @admin_only
        async def purge() -> Response:
            return json({"purged": True})

        @admin_only(action="maintenance.drain")
        async def drain(request: Request) -> Response:
            return json({"drained": True})

        router.add_post("/maintenance/purge", purge)
        router.add_post("/maintenance/drain", drain)

    def identity_from_request(request: Request) -> Identity | None:
        role = request.get_first_header(b"x-test-role")
        return Identity("someone", roles=frozenset({role.decode()})) if role else None

    def permission_allowed(identity: Identity, action: str) -> bool | None:
        return True if action == "maintenance.drain" and identity.has_role("operator") else None

    maintenance = plugin(
        "maintenance",
        sheepfold_register_routes=routes,
        sheepfold_identity_from_request=identity_from_request,
        sheepfold_permission_allowed=permission_allowed,
    )
    app = create_app(plugins=[maintenance], load_entry_points=False)
    await app.start()
    client = TestClient(app)
    assert (await client.post("/maintenance/purge")).status == 401
    assert (await client.post("/maintenance/purge", headers={"X-Test-Role": "operator"})).status == 401
    assert (await client.post("/maintenance/purge", headers={"X-Test-Role": "admin"})).status == 200
    assert (await client.post("/maintenance/purge", headers=ADMIN_HEADERS)).status == 200
    assert (await client.post("/maintenance/drain")).status == 401
    assert (await client.post("/maintenance/drain", headers={"X-Test-Role": "viewer"})).status == 401
    assert (await client.post("/maintenance/drain", headers={"X-Test-Role": "operator"})).status == 200
    assert (await client.post("/maintenance/drain", headers={"X-Test-Role": "admin"})).status == 200
    await app.stop()


@pytest.mark.parametrize("environment", ["production", "testing", "staging"])
def test_outside_development_start_up_refuses_a_missing_token(monkeypatch, environment):
    monkeypatch.setenv("SHEEPFOLD_ENV", environment)
    with pytest.raises(SettingsError) as error:
        create_app({"admin": {"token": ""}}, load_entry_points=False)
    assert any(problem.startswith("admin.token: required outside development") for problem in error.value.problems)


def test_a_short_token_is_refused_in_every_environment_without_printing_it(monkeypatch):
    short = "x" * (MIN_TOKEN_LENGTH - 1)
    for environment in ("development", "production"):
        monkeypatch.setenv("SHEEPFOLD_ENV", environment)
        with pytest.raises(SettingsError) as error:
            create_app({"admin": {"token": short}}, load_entry_points=False)
        assert error.value.problems == [f"admin.token: expected at least {MIN_TOKEN_LENGTH} characters"]
        assert short not in str(error.value)


async def test_admin_open_leaves_the_surface_open_and_says_so_at_every_start(monkeypatch, caplog):
    monkeypatch.setenv("SHEEPFOLD_ENV", "production")
    for _start in range(2):  # a warning on every start, not once per process
        app = create_app({"admin": {"token": "", "open": True}}, load_entry_points=False)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sheepfold.admin"):
            await app.start()
        assert any("admin.open = true" in record.getMessage() for record in caplog.records)
        assert (await TestClient(app).get("/-/plugins")).status == 200
        await app.stop()


async def test_development_without_a_token_is_open(monkeypatch):
    monkeypatch.setenv("SHEEPFOLD_ENV", "development")
    app = create_app({"admin": {"token": ""}}, load_entry_points=False)
    await app.start()
    assert (await TestClient(app).get("/metrics")).status == 200
    await app.stop()


async def test_the_guard_runs_on_admin_routes_only(monkeypatch):
    # Every request pays for each middleware in its route's chain: routes not declared admin_only skip the guard.
    guarded = []
    guard_call = AdminGuardMiddleware.__call__

    async def counting(self, request, handler):
        guarded.append(request.path)
        return await guard_call(self, request, handler)

    monkeypatch.setattr(AdminGuardMiddleware, "__call__", counting)

    def routes(router):
        async def hello() -> Response:
            return json({"hello": "world"})

        router.add_get("/hello", hello)

    app = create_app(plugins=[plugin("hello", sheepfold_register_routes=routes)], load_entry_points=False)
    await app.start()
    try:
        client = TestClient(app)
        assert (await client.get("/hello")).status == 200
        assert (await client.get("/health")).status == 200
        assert guarded == []
        assert (await client.get("/-/plugins")).status == 401
        assert (await client.get("/-/plugins", headers=ADMIN_HEADERS)).status == 200
        assert guarded == ["/-/plugins", "/-/plugins"]
    finally:
        await app.stop()


@pytest.mark.parametrize(
    ("method", "accept", "sign_in", "status"),
    [
        ("GET", b"text/html,application/xhtml+xml", "/sign-in", 303),
        ("GET", b"application/json", "/sign-in", 401),  # a script: the problem, not a page
        ("POST", b"text/html", "/sign-in", 401),
        ("GET", b"text/html", None, 401),
    ],
)
def test_a_refused_browser_is_sent_to_the_routes_sign_in_page_and_anyone_else_gets_401(method, accept, sign_in, status):
    request = Request(method, b"/-/page", [(b"accept", accept)])
    response = admin_http.refused(request, AdminRoute(sign_in=sign_in))
    assert response.status == status
    if status == 303:
        assert response.headers.get_first(b"location") == b"/sign-in?next=%2F-%2Fpage"
    else:
        assert response.headers.get_first(b"www-authenticate") == b"Bearer"
