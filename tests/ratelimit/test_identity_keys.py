"""Rate limits count per identity: signed-in users behind one address have budgets of their own (memory and Redis)."""

from __future__ import annotations

from typing import Any

import pytest
from blacksheep import Request, Response, Router, text

import sheepfold_ratelimit.plugin as ratelimit_plugin
import sheepfold_sessions.plugin as sessions_plugin
from sheepfold import Identity, create_app, hookimpl
from sheepfold_ratelimit import rate_limit
from sheepfold_redis import plugin as redis_plugin
from sheepfold_sessions import sign_in
from tests.sessions.app_for_tests import SECRET, Browser
from tests.support.redis_adapters import fresh_prefix


class SignInRoutes:
    """``POST /login/{user}`` signs in through the sessions plugin; ``GET /strict`` allows 2 a minute."""

    name = "sign_in_routes_for_tests"

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Any) -> None:
        @rate_limit(None)
        async def login(request: Request, user: str) -> Response:
            sign_in(platform, request, user)
            return text(user)

        @rate_limit("strict")
        async def strict() -> Response:
            return text("strict")

        router.add_post("/login/{user}", login)
        router.add_get("/strict", strict)


def settings_for(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "sessions": {"secret": SECRET},
        "ratelimit": {"policies": {"strict": {"limit": "2/minute"}}},
    }
    if backend == "redis":
        settings["redis"] = {"url": request.getfixturevalue("redis_url"), "prefix": fresh_prefix()}
        for capability in ("ratelimit", "sessions"):
            settings[capability].update(backend="redis", fallback="memory")
    return settings


@pytest.fixture(params=["memory", "redis"])
async def app(request):
    app = create_app(
        settings_for(request.param, request),
        plugins=[redis_plugin, sessions_plugin, ratelimit_plugin, SignInRoutes()],
        load_entry_points=False,
    )
    await app.start()
    if request.param == "redis":
        assert app.platform.capabilities["ratelimit"].active_name == "redis"
    yield app
    await app.stop()


async def statuses(browser: Browser, count: int) -> list[int]:
    return [(await browser.request("GET", "/strict")).status for _ in range(count)]


async def test_two_signed_in_users_behind_one_address_have_separate_budgets(app):
    ada, bob = Browser(app), Browser(app)  # one TestClient address for both
    await ada.request("POST", "/login/ada")
    await bob.request("POST", "/login/bob")
    assert await statuses(ada, 3) == [200, 200, 429]
    assert await statuses(bob, 2) == [200, 200]


async def test_an_anonymous_client_is_keyed_by_its_address(app):
    first, second = Browser(app), Browser(app)  # no session: both are the one address
    assert await statuses(first, 2) == [200, 200]
    assert await statuses(second, 1) == [429]
    signed_in = Browser(app)
    await signed_in.request("POST", "/login/cy")
    assert await statuses(signed_in, 1) == [200]


async def test_hook_ratelimit_key_receives_the_identity_and_the_platform():
    seen: list[tuple[Identity, object]] = []

    class PerTenant:
        name = "per_tenant"

        @hookimpl
        def sheepfold_ratelimit_key(self, identity: Identity, platform: Any) -> str | None:
            seen.append((identity, platform))
            return "tenant:shared"  # every caller shares one budget

    app = create_app(
        {"sessions": {"secret": SECRET}, "ratelimit": {"policies": {"strict": {"limit": "2/minute"}}}},
        plugins=[sessions_plugin, ratelimit_plugin, SignInRoutes(), PerTenant()],
        load_entry_points=False,
    )
    await app.start()
    try:
        ada, bob = Browser(app), Browser(app)
        await ada.request("POST", "/login/ada")
        await bob.request("POST", "/login/bob")
        assert await statuses(ada, 2) + await statuses(bob, 1) == [200, 200, 429]
        assert [identity.subject for identity, _ in seen] == ["ada", "ada", "bob"]
        assert all(platform is app.platform for _, platform in seen)
    finally:
        await app.stop()
