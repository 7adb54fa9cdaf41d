"""HTTP response caching for GET routes that opt in, on the cache port, never shared between users."""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blacksheep import Request, Response
from blacksheep.middlewares import MiddlewareCategory

from sheepfold.cache.port import Cache
from sheepfold.cache.stored_response import decode_response, encode_response
from sheepfold.cache.tags import namespace_tag, user_tag
from sheepfold.fallback import BACKEND_FAILURES

if TYPE_CHECKING:
    from sheepfold.platform import Platform

logger = logging.getLogger("sheepfold.cache")

Handler = Callable[..., Awaitable[Any]]
#: The header that says whether a cached route's response came from the cache.
CACHE_HEADER = b"x-sheepfold-cache"
#: Cache-Control directives that forbid storing a response here.
_UNSTORABLE = (b"private", b"no-store", b"no-cache")
#: Innermost of all middlewares: after sessions and authentication, right around the handler.
_PRIORITY = 1_000_000


@dataclass
class CachedRoute:
    """How one route's responses are cached: ``namespace``, ``ttl`` seconds, ``vary`` and ``tags``.

    ``tags`` are formatted with the route's values (``"filing:{filing_id}"``).
    """

    namespace: str
    ttl: float
    vary: tuple[bytes, ...] = ()
    tags: tuple[str, ...] = ()
    #: The route's ``cache`` label in ``sheepfold_cache_hits_total`` and ``sheepfold_cache_misses_total``.
    cache_name: str = field(init=False)

    def __post_init__(self) -> None:
        self.cache_name = f"response:{self.namespace}"


class ResponseCache:
    """Caches the responses of opted-in GET routes on the app's :class:`Cache`.

    Keys: the route's namespace, the path and query, the values of the
    request headers the route declares in ``vary``, and *who asks*: the
    subject of the request's :class:`~sheepfold.Identity`
    (``platform.identify``), else, for an anonymous request carrying a
    ``Cookie`` or an ``Authorization`` header, a digest of those headers;
    only a request with none of them shares the public entry. So one
    identity's response is never served to another. Stored values are tagged
    with the namespace and the subject (:func:`~sheepfold.cache.invalidate_namespace`,
    :func:`~sheepfold.cache.invalidate_user` invalidate by them) and the route's tags.

    Never stored: anything but a 200; a response that sets a cookie, says
    ``private``, ``no-store`` or ``no-cache``, varies on ``*`` or on a header
    the route did not declare, or whose handler changed the session; a
    streamed body. A cache that fails is a miss (the route answers as if
    uncached), never an error. ``X-Sheepfold-Cache: hit|miss`` says which.
    Hits and misses are counted per namespace in ``/metrics``
    (``sheepfold_cache_hits_total{cache="response:<namespace>"}``, ``sheepfold_cache_misses_total``).
    """

    def __init__(self, cache: Cache, platform: Platform) -> None:
        self.cache = cache
        self._identify = platform.identify
        self._routes: dict[Any, CachedRoute] = {}
        self._resolved: dict[Any, CachedRoute | None] = {}
        self._hits = platform.metrics.cache_hits
        self._misses = platform.metrics.cache_misses

    @classmethod
    def of(cls, platform: Platform) -> ResponseCache:
        """The platform's response cache, created (and its middleware added) on first call.

        Call it from ``sheepfold_configure_app`` or ``sheepfold_register_routes``,
        before the app starts; a handler may also declare ``responses: ResponseCache``.
        """
        found = platform.find(cls)
        if found is None:
            found = cls(platform.require(Cache), platform)
            platform.provide(cls, found)
            platform.app.middlewares.append(found.middleware, MiddlewareCategory.MESSAGE, _PRIORITY)
        return found

    def cached(
        self, handler: Handler, *, namespace: str, ttl: float, vary: Iterable[str] = (), tags: Iterable[str] = ()
    ) -> Handler:
        """Opt ``handler`` (a GET route's) in; returns it unchanged, for ``router.add_get(path, ...)``.

        The function is what opts in: every route served by it is cached.

        ``ttl`` is seconds; ``vary`` names request headers the response
        depends on besides the user (``Accept-Language``); ``tags`` are extra
        tags, formatted with route values (``"filing:{filing_id}"``).
        """
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._routes[inspect.unwrap(handler)] = CachedRoute(
            namespace=namespace,
            ttl=ttl,
            vary=tuple(name.strip().lower().encode("latin-1") for name in vary),
            tags=tuple(tags),
        )
        self._resolved.clear()
        return handler

    async def middleware(self, request: Request, handler: Callable[[Request], Awaitable[Response]]) -> Response:
        route = self._route_of(handler)
        if route is None or request.method != "GET":
            return await handler(request)
        scope, user = await self._scope(request)
        key = self._key(route, request, scope)
        stored = await self._lookup(key)
        response = None if stored is None else decode_response(stored)
        if response is not None:
            self._hits.inc(route.cache_name)
            response.headers[CACHE_HEADER] = b"hit"
            return response
        self._misses.inc(route.cache_name)
        response = await handler(request)
        encoded = encode_response(response) if _storable(request, response, route) else None
        if encoded is not None:
            tags = [namespace_tag(route.namespace), *(tag.format(**request.route_values) for tag in route.tags)]
            if user is not None:
                tags.append(user_tag(user))
            await self._store(key, encoded, route.ttl, tags)
        response.headers[CACHE_HEADER] = b"miss"
        return response

    def _route_of(self, handler: Any) -> CachedRoute | None:
        try:
            return self._resolved[handler]
        except KeyError:
            route = self._resolved[handler] = self._routes.get(inspect.unwrap(handler))
            return route

    async def _scope(self, request: Request) -> tuple[str, str | None]:
        """Who asks, as a key part, and the identity's subject when it has one."""
        subject = (await self._identify(request)).subject
        if subject is not None:
            return f"user:{subject}", subject
        credentials = b"\0".join([*request.headers.get(b"cookie"), b"\1", *request.headers.get(b"authorization")])
        if credentials == b"\1":
            return "public", None
        return "credentials:" + hashlib.blake2b(credentials, digest_size=20).hexdigest(), None

    @staticmethod
    def _key(route: CachedRoute, request: Request, scope: str) -> str:
        url = request.url
        parts = [scope.encode(), url.path, url.query or b""]
        for name in route.vary:
            parts.append(b",".join(request.headers.get(name)))
        # Each part length-prefixed: no user id, path or header value can pass for another split.
        digest = hashlib.blake2b(b"".join(b"%d:%b" % (len(part), part) for part in parts), digest_size=20).hexdigest()
        return f"http:{route.namespace}:{digest}"

    async def _lookup(self, key: str) -> bytes | None:
        try:
            return await self.cache.get(key)
        except BACKEND_FAILURES as error:
            logger.debug("response cache unavailable (%s): a miss", error)
            return None

    async def _store(self, key: str, value: bytes, ttl: float, tags: list[str]) -> None:
        try:
            await self.cache.set(key, value, ttl, tags)
        except BACKEND_FAILURES as error:
            logger.debug("response cache unavailable (%s): not stored", error)


def _storable(request: Request, response: Response, route: CachedRoute) -> bool:
    if response.status != 200 or b"set-cookie" in response.headers:
        return False
    for value in response.headers.get(b"cache-control"):
        if any(directive in value.lower() for directive in _UNSTORABLE):
            return False
    for value in response.headers.get(b"vary"):
        for name in value.lower().split(b","):
            name = name.strip()
            if name == b"*" or (name and name not in route.vary):
                return False
    try:
        return not request.session.modified
    except TypeError:  # the app has no sessions
        return True
