"""The rate-limit middleware on the memory backend: policies per route, headers, 429, keys, exemptions."""

from __future__ import annotations

import json

import pytest
from blacksheep import Response, text
from blacksheep.testing import TestClient

from sheepfold import PluginError, SettingsError, hookimpl
from sheepfold_ratelimit import rate_limit
from tests.ratelimit.app_for_tests import limited_app


@pytest.fixture
async def started():
    apps = []

    async def start(*args, **kwargs):
        app = limited_app(*args, **kwargs)
        await app.start()
        apps.append(app)
        return TestClient(app)

    yield start
    for app in apps:
        await app.stop()


def header(response, name: str) -> str:
    return response.headers.get_first(name.encode()).decode()


async def statuses(client, path: str, count: int, **kwargs) -> list[int]:
    return [(await client.get(path, **kwargs)).status for _ in range(count)]


async def test_every_route_gets_the_default_policy_with_the_ietf_headers(started):
    client = await started()
    response = await client.get("/open")
    assert response.status == 200
    assert header(response, "RateLimit-Policy") == '"standard";q=5;w=60'
    assert header(response, "RateLimit") == '"standard";r=4;t=60'


async def test_the_limit_is_exact_and_a_refusal_is_a_429_problem_with_retry_after(started):
    client = await started()
    assert await statuses(client, "/open", 6) == [200] * 5 + [429]
    refused = await client.get("/open")
    assert refused.status == 429
    assert header(refused, "Content-Type") == "application/problem+json"
    assert 1 <= int(header(refused, "Retry-After")) <= 60
    assert header(refused, "RateLimit") == '"standard";r=0;t=60'
    body = json.loads(await refused.read())
    assert body["status"] == 429 and body["policy"] == "standard"
    assert body["retry_after"] == int(header(refused, "Retry-After"))


async def test_a_decorator_chooses_the_policy_and_the_cost(started):
    client = await started()
    assert await statuses(client, "/strict", 3) == [200, 200, 429]
    costly = await client.get("/costly")
    assert header(costly, "RateLimit") == '"standard";r=0;t=60'
    assert (await client.get("/open")).status == 429  # the same policy and key: the cost used it up


async def test_exempt_routes_are_never_counted(started):
    client = await started({"exempt_paths": ["/health", "/open"]})
    assert await statuses(client, "/free", 8) == [200] * 8
    assert await statuses(client, "/open", 8) == [200] * 8
    assert await statuses(client, "/health", 8) == [200] * 8
    assert (await client.get("/free")).headers.get_first(b"RateLimit") is None


async def test_path_rules_in_settings_choose_a_policy_or_exempt(started):
    client = await started({"routes": {"/open": "strict", "/cost*": ""}})
    assert await statuses(client, "/open", 3) == [200, 200, 429]
    # The decorator wins over the rule that exempts "/cost*": 5 units of 5 per request.
    assert await statuses(client, "/costly", 2) == [200, 429]


async def test_without_a_default_policy_only_chosen_routes_are_limited(started):
    client = await started({"default_policy": ""})
    assert await statuses(client, "/open", 8) == [200] * 8
    assert await statuses(client, "/strict", 3) == [200, 200, 429]


async def test_an_authenticated_user_is_counted_apart_from_its_address(started):
    client = await started()
    assert await statuses(client, "/strict", 3, headers={"X-User": "ada"}) == [200, 200, 429]
    assert await statuses(client, "/strict", 2, headers={"X-User": "bob"}) == [200, 200]
    assert await statuses(client, "/strict", 2) == [200, 200]


async def test_a_forwarded_address_counts_only_from_a_trusted_proxy(started):
    untrusted = await started()
    spoofed = [{"X-Forwarded-For": f"203.0.113.{n}"} for n in range(3)]
    assert [(await untrusted.get("/strict", headers=h)).status for h in spoofed] == [200, 200, 429]
    trusted = await started({"trusted_proxies": ["127.0.0.0/8"]})
    assert [(await trusted.get("/strict", headers=h)).status for h in spoofed] == [200, 200, 200]


async def test_several_windows_are_advertised_and_all_must_admit(started):
    client = await started({"policies": {"standard": {"limit": ["2/second", "3/minute"]}}})
    first = await client.get("/open")
    assert header(first, "RateLimit-Policy") == '"standard-1s";q=2;w=1, "standard-60s";q=3;w=60'
    assert header(first, "RateLimit") == '"standard-1s";r=1;t=1, "standard-60s";r=2;t=60'
    assert await statuses(client, "/open", 2) == [200, 429]


async def test_penalties_from_settings_block_a_repeat_offender(started):
    penalty = {"base": 30, "factor": 2, "max": 600, "forget_after": 3600}
    client = await started({"policies": {"standard": {"limit": "1/second", "penalty": penalty}}})
    assert await statuses(client, "/open", 2) == [200, 429]
    assert int(header(await client.get("/open"), "Retry-After")) == 30


async def test_hook_ratelimit_key(started):
    class ByApiKey:
        @hookimpl
        def sheepfold_ratelimit_key(self, request, policy):
            key = request.get_first_header(b"x-api-key")
            return f"api:{key.decode()}" if key else None

    client = await started(None, ByApiKey())
    assert await statuses(client, "/strict", 3, headers={"X-Api-Key": "a"}) == [200, 200, 429]
    assert await statuses(client, "/strict", 1, headers={"X-Api-Key": "b"}) == [200]
    assert await statuses(client, "/strict", 2) == [200, 200]  # no key: the default (the address)


async def test_hook_ratelimit_exempt(started):
    class InternalProber:
        @hookimpl
        def sheepfold_ratelimit_exempt(self, request, policy):
            return True if request.get_first_header(b"x-internal") == b"yes" else None

    client = await started(None, InternalProber())
    assert await statuses(client, "/strict", 5, headers={"X-Internal": "yes"}) == [200] * 5
    assert await statuses(client, "/strict", 3) == [200, 200, 429]


def test_a_bad_rate_stops_start_up_naming_the_key():
    with pytest.raises((SettingsError, PluginError), match=r"ratelimit\.policies\.standard\.limit"):
        limited_app({"policies": {"standard": {"limit": "lots"}}})


def test_an_unknown_default_policy_stops_start_up_naming_the_known_ones():
    with pytest.raises((SettingsError, PluginError), match=r"ratelimit\.default_policy.*standard, strict"):
        limited_app({"default_policy": "nope"})


async def test_a_decorator_naming_an_unknown_policy_stops_start_up(started):
    # Found while the app is built, so `sheepfold check` reports it too, with every other bad setting.
    class Misnamed:
        @hookimpl
        def sheepfold_register_routes(self, router, platform):
            @rate_limit("missing")
            async def handler() -> Response:
                return text("never")

            router.add_get("/misnamed", handler)

    with pytest.raises(SettingsError, match="no rate-limit policy named 'missing'; defined: standard, strict"):
        await started(None, Misnamed())
