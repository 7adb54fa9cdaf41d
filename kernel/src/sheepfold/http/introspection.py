"""``/-/plugins`` and ``/metrics``: what runs here, and how it is doing (admin routes)."""

from __future__ import annotations

from typing import Any

from blacksheep import Content, Response, Router, json
from blacksheep.server.openapi.common import ContentInfo, ResponseInfo
from prometheus_client import CONTENT_TYPE_LATEST

from sheepfold.http.admin import admin_only
from sheepfold.http.openapi import admin_docs, json_response
from sheepfold.platform import Platform


def add_introspection_routes(router: Router, platform: Platform) -> None:
    @admin_only
    @admin_docs(
        summary="The plugins loaded here and their hooks",
        responses={200: json_response("Plugins", list[dict[str, Any]])},
    )
    async def plugins() -> Response:
        return json([info.to_json() for info in platform.plugins.infos.values()])

    @admin_only
    @admin_docs(
        summary="Prometheus metrics",
        responses={
            200: ResponseInfo(
                "Metrics, in Prometheus' text format", content=[ContentInfo(str, content_type="text/plain")]
            )
        },
    )
    async def metrics() -> Response:
        return Response(200, content=Content(CONTENT_TYPE_LATEST.encode(), platform.metrics.render()))

    router.add_get("/-/plugins", plugins)
    router.add_get("/metrics", metrics)
