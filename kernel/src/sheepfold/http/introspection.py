"""``/-/plugins`` and ``/metrics``: what runs here, and how it is doing (admin routes)."""

from __future__ import annotations

from blacksheep import Content, Response, Router, json
from prometheus_client import CONTENT_TYPE_LATEST

from sheepfold.http.admin import admin_only
from sheepfold.platform import Platform


def add_introspection_routes(router: Router, platform: Platform) -> None:
    @admin_only
    async def plugins() -> Response:
        return json([info.to_json() for info in platform.plugins.infos.values()])

    @admin_only
    async def metrics() -> Response:
        return Response(200, content=Content(CONTENT_TYPE_LATEST.encode(), platform.metrics.render()))

    router.add_get("/-/plugins", plugins)
    router.add_get("/metrics", metrics)
