"""HTTP response caching: per-user keys, Vary, what is never stored, tags, metrics, and a cache that is down."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from blacksheep import Request, Response, Router, json
from blacksheep.testing import TestClient

from sheepfold import BackendUnavailable, Cache, Identity, create_app, hookimpl
from sheepfold.cache import ResponseCache, invalidate_entity, invalidate_namespace, invalidate_user
from sheepfold.cache.memory import MemoryCache
from tests.support.admin import ADMIN_HEADERS

HIT, MISS = (b"hit",), (b"miss",)


class CachedRoutes:
    """Cached routes that answer with a counter, so a test sees whether the handler ran.

    A request with ``X-User: name`` is made by the identity ``name`` (this plugin resolves it).
    """

    name = "cached_routes_for_tests"

    def __init__(self) -> None:
        self.counter = itertools.count(1)

    @hookimpl
    def sheepfold_identity_from_request(self, request: Request) -> Identity | None:
        user = request.get_first_header(b"x-user")
        return Identity(user.decode()) if user else None

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Any) -> None:
        responses = ResponseCache.of(platform)

        def answer(request: Request, **extra: Any) -> Response:
            user = request.scope["sheepfold.identity"].subject  # resolved by the cache before the handler
            return json({"n": next(self.counter), "user": user, **extra})

        async def me(request: Request) -> Response:
            return answer(request)

        async def language(request: Request) -> Response:
            return answer(request, language=(request.get_first_header(b"accept-language") or b"").decode())

        async def undeclared_vary(request: Request) -> Response:
            response = answer(request)
            response.add_header(b"vary", b"X-Tenant")
            return response

        async def sets_cookie(request: Request) -> Response:
            response = answer(request)
            response.set_cookie(__import__("blacksheep").Cookie("tracking", "1"))
            return response

        async def private(request: Request) -> Response:
            response = answer(request)
            response.add_header(b"cache-control", b"private, max-age=60")
            return response

        async def no_store(request: Request) -> Response:
            response = answer(request)
            response.add_header(b"cache-control", b"no-store")
            return response

        async def missing(request: Request) -> Response:
            return Response(404)

        async def filing(request: Request, filing_id: int) -> Response:
            return answer(request, filing=filing_id)

        cached = responses.cached
        router.add_get("/me", cached(me, namespace="me", ttl=60))
        router.add_get("/language", cached(language, namespace="language", ttl=60, vary=["Accept-Language"]))
        router.add_get("/undeclared-vary", cached(undeclared_vary, namespace="vary", ttl=60))
        router.add_get("/sets-cookie", cached(sets_cookie, namespace="cookie", ttl=60))
        router.add_get("/private", cached(private, namespace="private", ttl=60))
        router.add_get("/no-store", cached(no_store, namespace="no-store", ttl=60))
        router.add_get("/missing", cached(missing, namespace="missing", ttl=60))
        router.add_get("/filings/{filing_id}", cached(filing, namespace="filings", ttl=60, tags=["filing:{filing_id}"]))

        async def uncached(request: Request) -> Response:
            return answer(request)

        router.add_get("/uncached", uncached)


@pytest.fixture
async def app():
    app = create_app({}, plugins=[CachedRoutes()], load_entry_points=False)
    await app.start()
    yield app
    await app.stop()


async def get(app, path: str, **headers: str) -> tuple[dict[str, Any], tuple[bytes, ...]]:
    response = await TestClient(app).get(
        path, headers={name.replace("_", "-"): value for name, value in headers.items()}
    )
    return await response.json(), response.headers.get(b"x-sheepfold-cache")


async def test_a_second_request_is_a_hit_with_the_same_body(app):
    first, state = await get(app, "/me")
    assert state == MISS
    assert await get(app, "/me") == (first, HIT)


async def test_two_users_on_the_same_route_each_get_their_own_data(app):
    alice, _ = await get(app, "/me", x_user="alice")
    bob, _ = await get(app, "/me", x_user="bob")
    assert (alice["user"], bob["user"]) == ("alice", "bob")
    assert await get(app, "/me", x_user="alice") == (alice, HIT)
    assert await get(app, "/me", x_user="bob") == (bob, HIT)
    anonymous, state = await get(app, "/me")
    assert anonymous["user"] is None and state == MISS


async def test_requests_with_credentials_but_no_user_never_share_an_entry(app):
    public, _ = await get(app, "/me")
    with_cookie, state = await get(app, "/me", cookie="session=abc")
    assert state == MISS and with_cookie != public
    other_cookie, state = await get(app, "/me", cookie="session=xyz")
    assert state == MISS and other_cookie != with_cookie
    with_token, state = await get(app, "/me", authorization="Bearer t1")
    assert state == MISS
    assert await get(app, "/me", cookie="session=abc") == (with_cookie, HIT)
    assert await get(app, "/me", authorization="Bearer t1") == (with_token, HIT)


async def test_declared_vary_headers_key_separate_entries(app):
    english, _ = await get(app, "/language", accept_language="en")
    french, state = await get(app, "/language", accept_language="fr")
    assert state == MISS and french["language"] == "fr"
    assert await get(app, "/language", accept_language="en") == (english, HIT)


@pytest.mark.parametrize("path", ["/undeclared-vary", "/sets-cookie", "/private", "/no-store", "/missing"])
async def test_responses_that_must_not_be_shared_are_never_stored(app, path):
    client = TestClient(app)
    for _ in range(2):
        response = await client.get(path)
        assert response.headers.get(b"x-sheepfold-cache") == MISS


async def test_query_strings_key_separate_entries(app):
    first, _ = await get(app, "/me?page=1")
    second, state = await get(app, "/me?page=2")
    assert state == MISS and first != second


async def test_routes_that_did_not_opt_in_are_not_cached(app):
    response = await TestClient(app).get("/uncached")
    assert response.headers.get(b"x-sheepfold-cache") == ()


async def test_invalidation_by_user_entity_and_namespace(app):
    cache = app.platform.require(Cache)
    await get(app, "/me", x_user="alice")
    await get(app, "/me", x_user="bob")
    await get(app, "/filings/42", x_user="alice")
    await get(app, "/filings/7", x_user="alice")
    assert await invalidate_user(cache, "alice") == 3
    assert (await get(app, "/me", x_user="bob"))[1] == HIT
    assert (await get(app, "/me", x_user="alice"))[1] == MISS
    await get(app, "/filings/42", x_user="bob")
    assert await invalidate_entity(cache, "filing", 42) == 1
    assert (await get(app, "/filings/42", x_user="bob"))[1] == MISS
    assert await invalidate_namespace(cache, "me") == 2
    assert (await get(app, "/me", x_user="bob"))[1] == MISS


async def test_hits_and_misses_are_counted_per_namespace_in_metrics(app):
    for _ in range(3):
        await get(app, "/me")
    await get(app, "/language", accept_language="en")
    text = await (await TestClient(app).get("/metrics", headers=ADMIN_HEADERS)).text()
    assert 'sheepfold_cache_hits_total{cache="response:me"} 2.0' in text
    assert 'sheepfold_cache_misses_total{cache="response:me"} 1.0' in text
    assert 'sheepfold_cache_misses_total{cache="response:language"} 1.0' in text


class DownCache(MemoryCache):
    """A cache whose backend is always down."""

    async def get(self, key: str) -> bytes | None:
        raise BackendUnavailable("cache is down")

    async def set(self, *args: Any, **kwargs: Any) -> None:
        raise BackendUnavailable("cache is down")


async def test_a_cache_that_is_down_is_a_miss_never_an_error():
    class DownCacheProvider:
        name = "down_cache"

        @hookimpl
        def sheepfold_register_providers(self, register: Any) -> None:
            register("cache", "down", lambda platform: DownCache())

    app = create_app(
        {"cache": {"backend": "down", "fallback": "down"}},
        plugins=[DownCacheProvider(), CachedRoutes()],
        load_entry_points=False,
    )
    await app.start()
    try:
        for _ in range(2):
            response = await TestClient(app).get("/me")
            assert response.status == 200
            assert response.headers.get(b"x-sheepfold-cache") == MISS
    finally:
        await app.stop()


async def test_hook_identity_from_request_keys_and_tags_the_cache_by_the_subject_it_names(app):
    class TenantUser:
        name = "tenant_user"

        @hookimpl(tryfirst=True)
        async def sheepfold_identity_from_request(self, request: Request) -> Identity | None:
            header = request.get_first_header(b"x-account")
            return Identity(header.decode()) if header else None

    app = create_app({}, plugins=[CachedRoutes(), TenantUser()], load_entry_points=False)
    await app.start()
    try:
        carol, _ = await get(app, "/me", x_account="carol", cookie="a=1")
        assert await get(app, "/me", x_account="carol", cookie="b=2") == (carol, HIT)  # the user, not the cookie
        assert (await get(app, "/me", x_account="dave"))[1] == MISS
        assert await invalidate_user(app.platform.require(Cache), "carol") == 1
    finally:
        await app.stop()
