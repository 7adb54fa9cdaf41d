"""A plugin with rate-limited routes, and an app around it, for the rate-limit plugin's tests."""

from __future__ import annotations

from typing import Any

from blacksheep import Request, Response, Router, text
from blacksheep.server.application import MiddlewareCategory
from guardpost import Identity

import sheepfold_ratelimit.plugin as ratelimit_plugin
from sheepfold import PlatformApplication, create_app, hookimpl
from sheepfold_ratelimit import rate_limit


class RoutesPlugin:
    """``/open`` (the default policy), ``/strict`` (decorated), ``/costly`` (cost 5), ``/free`` (exempt).

    A request with ``X-User: name`` is authenticated as ``name``.
    """

    name = "routes_for_tests"

    @hookimpl
    def sheepfold_configure_app(self, app: Any, platform: Any) -> None:
        async def authenticate(request: Request, handler: Any) -> Response:
            user = request.get_first_header(b"x-user")
            request.user = Identity({"sub": user.decode()}, "test") if user else None
            return await handler(request)

        app.middlewares.append(authenticate, MiddlewareCategory.AUTH)

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Any) -> None:
        async def open_route() -> Response:
            return text("open")

        @rate_limit("strict")
        async def strict_route() -> Response:
            return text("strict")

        @rate_limit("standard", cost=5)
        async def costly_route() -> Response:
            return text("costly")

        @rate_limit(None)
        async def free_route() -> Response:
            return text("free")

        router.add_get("/open", open_route)
        router.add_get("/strict", strict_route)
        router.add_get("/costly", costly_route)
        router.add_get("/free", free_route)


def limited_app(ratelimit: dict[str, Any] | None = None, *plugins: object, **settings: Any) -> PlatformApplication:
    """An app with the rate-limit plugin, the routes above, small policies, and ``plugins``."""
    section = {
        "policies": {"standard": {"limit": "5/minute"}, "strict": {"limit": "2/minute"}},
        **(ratelimit or {}),
    }
    return create_app(
        {"ratelimit": section, **settings},
        plugins=[ratelimit_plugin, RoutesPlugin(), *plugins],
        load_entry_points=False,
    )
