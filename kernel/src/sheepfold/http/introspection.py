"""``/-/plugins`` and ``/metrics``: what runs here, and how it is doing."""

from __future__ import annotations

from typing import Any

from blacksheep import Content, Request, Response, Router, json
from blacksheep.server.openapi.common import ContentInfo, ResponseInfo
from prometheus_client import CONTENT_TYPE_LATEST

from sheepfold.http.admin import is_admin
from sheepfold.http.openapi import admin_docs, json_response
from sheepfold.http.problems import problem
from sheepfold.platform import Platform


def _unauthorized() -> Response:
    response = problem(401, "This route requires the admin token as a Bearer token.")
    response.add_header(b"WWW-Authenticate", b"Bearer")
    return response


def add_introspection_routes(router: Router, platform: Platform) -> None:
    @admin_docs(
        summary="The plugins loaded here and their hooks",
        responses={200: json_response("Plugins", list[dict[str, Any]])},
    )
    async def plugins(request: Request) -> Response:
        if not is_admin(request, platform):
            return _unauthorized()
        return json([info.to_json() for info in platform.plugins.infos.values()])

    @admin_docs(
        summary="Prometheus metrics",
        responses={
            200: ResponseInfo(
                "Metrics, in Prometheus' text format", content=[ContentInfo(str, content_type="text/plain")]
            )
        },
    )
    async def metrics(request: Request) -> Response:
        if not is_admin(request, platform):
            return _unauthorized()
        return Response(200, content=Content(CONTENT_TYPE_LATEST.encode(), platform.metrics.render()))

    router.add_get("/-/plugins", plugins)
    router.add_get("/metrics", metrics)
