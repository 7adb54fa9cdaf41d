"""An app with every shipped plugin on memory, as the edge tests attack it: admin token set, limits high."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from blacksheep import Router

from sheepfold import PlatformApplication, create_app

ADMIN_TOKEN = "edge-tests-admin-token-0123456789abcdef"
#: Limits high enough that a fuzzer is not refused by the rate limiter before its body is read.
SETTINGS: dict[str, Any] = {
    "admin": {"token": ADMIN_TOKEN},
    "ratelimit": {"policies": {"standard": {"limit": "1000000/minute"}, "example": {"limit": "1000000/minute"}}},
}
BODILESS = {"GET", "HEAD", "OPTIONS", "TRACE"}


def full_app(plugins: Iterable[object] = ()) -> PlatformApplication:
    """Every installed plugin (entry points) and ``plugins``, with :data:`SETTINGS`."""
    return create_app(SETTINGS, plugins=plugins)


async def started_full_app() -> PlatformApplication:
    """:func:`full_app`, migrations applied on the in-memory database, started."""
    from sheepfold_database import Migrations

    app = full_app()
    await Migrations.of(app.platform).upgrade()
    await app.start()
    return app


def body_routes(router: Router) -> Iterator[tuple[str, str]]:
    """``(method, path)`` of every HTTP route that may take a body, path parameters filled with ``x``."""
    for method, routes in router.routes.items():
        name = method.decode()
        if "_" in name or name in BODILESS:  # "GET_WS" and the like are WebSocket routes
            continue
        for route in routes:
            yield name, re.sub(r"\{[^}]*\}", "x", route.mustache_pattern)
