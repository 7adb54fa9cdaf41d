"""Policies bind to the route, not the spelling: every spelling the router dispatches to a route
is counted against that route's policy, under the same key, and an exemption is not reachable by
spelling a limited route like an exempt path.

Spellings are a systematic product of the transformations a client can apply to a path (letter
case, percent-encoding, repeated slashes, dot segments, trailing slashes, a query, the
absolute form of the request target). They are sent byte for byte over a socket to a served app,
so no client library normalises them; which route the router dispatched each one to is read from
the response (each handler names its route), and whatever it was, the policy and the counter must
be that route's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from blacksheep import Response, Router, text

import sheepfold_ratelimit.plugin as ratelimit_plugin
import sheepfold_redis.plugin as redis_plugin
from sheepfold import PlatformApplication, admin_only, create_app, hookimpl
from sheepfold.http.admin import is_admin_path
from sheepfold.ratelimit import RateLimitPolicy
from sheepfold_ratelimit import RoutePolicies
from tests.realtime.served import serving
from tests.support.admin import ADMIN_HEADERS
from tests.support.redis_adapters import fresh_prefix

#: route template -> the policy it must be counted against (None: exempt), under these settings.
EXPECTED = {
    "/login": "login",  # a `ratelimit.routes` rule, the docs' way of protecting a login route
    "/Account/Settings": "login",  # registered in mixed case; the rule is written in lower case
    "/api/items/{item_id}": "api",  # a glob rule over a parameterised route
    "/-/status": None,  # an admin route (admin_only), exempt by the default `/-/*`
    "/health/spelling": None,  # exempt by the default `/health/*`
    "/{path:page}": "standard",  # a catch-all: paths shaped like `/-/...` or `/health/...` stay limited
}
RULES = {"/login": "login", "/account/*": "login", "/api/*": "api"}
#: A path the router sends to each route, as a client would normally spell it.
CANONICAL = {
    "/login": "/login",
    "/Account/Settings": "/Account/Settings",
    "/api/items/{item_id}": "/api/items/42",
    "/-/status": "/-/status",
    "/health/spelling": "/health/spelling",
    "/{path:page}": "/-/jobs",  # spelled like the exempt admin surface
}


class SpellingRoutes:
    """Each route answers with its own template, so the test sees where the router sent a request.

    A route on the admin surface (``/-/...``) must be declared ``admin_only``; every request carries
    the admin token, so the guard admits whichever route a spelling reaches.
    """

    name = "spelling_routes"

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Any) -> None:
        for template in EXPECTED:
            router.add_get(template, self._answer(template))

    @staticmethod
    def _answer(template: str) -> Any:
        async def handler() -> Response:
            return text(template)

        return admin_only(handler) if is_admin_path(template) else handler


def spelling_app(**sections: dict[str, Any]) -> PlatformApplication:
    ratelimit = {
        "policies": {name: {"limit": "100000/minute"} for name in ("login", "api", "standard")},
        "routes": RULES,
        **sections.pop("ratelimit", {}),
    }
    plugins: list[object] = [ratelimit_plugin, SpellingRoutes()]
    if "redis" in sections:
        plugins.insert(0, redis_plugin)
    return create_app({"ratelimit": ratelimit, **sections}, plugins=plugins, load_entry_points=False)


def _cases(path: str) -> Iterator[str]:
    yield path
    yield path.upper()
    yield "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(path))


def _encodings(path: str) -> Iterator[str]:
    yield path
    letters = [i for i, c in enumerate(path) if c.isalnum()]
    first = letters[0]
    yield path[:first] + f"%{ord(path[first]):02X}" + path[first + 1 :]  # one letter
    yield "".join(f"%{ord(c):02x}" if c.isalnum() else c for c in path)  # every letter, lower-case hex
    yield path[0] + path[1:].replace("/", "%2F")  # the separators


def _shapes(path: str) -> Iterator[str]:
    yield path
    yield "/" + path  # a repeated leading slash
    yield path.replace("/", "//", 2).replace("//", "/", 1)  # a repeated inner slash
    yield "/." + path  # a dot segment
    yield "/x/.." + path  # a parent segment
    yield "/%2E" + path  # an encoded dot segment


def _tails(path: str) -> Iterator[str]:
    for tail in ("", "/", "//", "/."):
        for query in ("", "?a=1"):
            yield path + tail + query


def spellings(path: str) -> list[str]:
    """Every combination of the transformations above applied to ``path``, without repeats."""
    found: dict[str, None] = {}
    for cased in _cases(path):
        for encoded in _encodings(cased):
            for shaped in _shapes(encoded):
                for spelled in _tails(shaped):
                    found[spelled] = None
    found["http://spelling.test" + path] = None  # the absolute form of the request target
    return list(found)


async def raw_get(address: str, target: str) -> tuple[int, dict[str, str], str]:
    """Send ``GET target`` byte for byte; status, headers (lower-case names) and body."""
    host, port = address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        headers = "".join(f"{name}: {value}\r\n" for name, value in ADMIN_HEADERS.items())
        request = f"GET {target} HTTP/1.1\r\nHost: spelling.test\r\n{headers}Connection: close\r\n\r\n"
        writer.write(request.encode("latin-1"))
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body.decode("utf-8", "replace")


_STATE = re.compile(r'^"(?P<policy>[^"]+)";r=(?P<remaining>\d+);t=\d+$')


async def assert_every_spelling_counts_against_its_routes_policy(address: str, targets: list[str]) -> None:
    remaining: dict[str, int] = {}
    dispatched: dict[str, int] = dict.fromkeys(EXPECTED, 0)
    wrong: list[str] = []
    for target in targets:
        status, headers, body = await raw_get(address, target)
        if status == 404:
            continue  # the router sent it nowhere: no route, no policy
        assert status == 200, (target, status, body)
        route = body
        assert route in EXPECTED, f"{target!r} reached a route of the kernel: {body[:80]!r}"
        dispatched[route] += 1
        state = headers.get("ratelimit")
        expected = EXPECTED[route]
        if expected is None:
            if state is not None:
                wrong.append(f"{target!r} reached exempt {route} and was counted: {state}")
            continue
        parsed = _STATE.match(state or "")
        if parsed is None or parsed["policy"] != expected:
            wrong.append(f"{target!r} reached {route}: expected policy {expected!r}, got {state!r}")
            continue
        # One key and one counter per policy: each request takes exactly one unit from it.
        now = int(parsed["remaining"])
        if expected in remaining and now != remaining[expected] - 1:
            wrong.append(f"{target!r} reached {route}: {expected!r} went {remaining[expected]} -> {now}")
        remaining[expected] = now
    assert not wrong, "\n".join(wrong[:40]) + f"\n({len(wrong)} in all)"
    # The corpus must exercise every route with spellings other than the canonical one.
    assert all(count > 3 for count in dispatched.values()), dispatched


def corpus() -> list[str]:
    return [spelled for path in CANONICAL.values() for spelled in spellings(path)]


def test_the_corpus_holds_the_spellings_that_once_dodged_a_rule():
    assert {"/LOGIN", "/login/", "/LoGiN/?a=1", "/%6Cogin", "/login//"} <= set(spellings("/login"))


async def test_every_spelling_the_router_dispatches_is_counted_against_the_routes_policy_memory():
    async with serving(spelling_app()) as address:
        await assert_every_spelling_counts_against_its_routes_policy(address, corpus())


async def test_a_limited_route_spelled_like_an_exempt_path_is_still_limited():
    # Each target reaches the limited catch-all route, yet reads like a default exemption.
    targets = ["/-/jobs", "/-/jobs/failed/1/retry", "/docs/x", "/metrics/x", "/health/x/y", "/openapi.json/x"]
    async with serving(spelling_app()) as address:
        for target in targets:
            status, headers, body = await raw_get(address, target)
            assert (status, body) == (200, "/{path:page}"), target
            assert headers.get("ratelimit", "").startswith('"standard";'), (target, headers)


@pytest.mark.redis
async def test_every_spelling_the_router_dispatches_is_counted_against_the_routes_policy_redis(redis_url):
    app = spelling_app(
        ratelimit={"backend": "redis", "fallback": "memory"}, redis={"url": redis_url, "prefix": fresh_prefix()}
    )
    async with serving(app) as address:
        # Fewer spellings on Redis (no encodings, no dot segments): the point is that the adapter
        # is handed the same policy and key; which route a spelling reaches is the router's business.
        plain = [target for target in corpus() if "%" not in target and "." not in target]
        await assert_every_spelling_counts_against_its_routes_policy(address, plain)


def test_rules_compare_with_templates_as_the_router_compares_paths():
    routes = RoutePolicies(
        {"p": RateLimitPolicy.from_settings("p", {"limit": "1/second"})},
        default=None,
        routes={"/Login/": "p", "/api/*": ""},
        exempt_paths=["/Health"],
        router=Router(),
    )
    assert routes.for_template("/login") == routes.for_template("/LOGIN") == (routes.policies["p"], 1)
    assert routes.for_template("/api/items/{item_id}") is None  # exempted by the rule
    assert routes.for_template("/health") is None and routes.for_template("/elsewhere") is None


async def test_a_rule_that_matches_no_route_template_is_reported_at_start_up(caplog):
    app = spelling_app(ratelimit={"routes": {"/api/items/42": "api"}})
    await app.start()
    try:
        assert "'/api/items/42' matches no route template" in caplog.text
    finally:
        await app.stop()
