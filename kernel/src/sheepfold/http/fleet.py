"""``/-/fleet`` and ``/-/fleet/self``: the live instances, and this one as it describes itself (admin routes)."""

from __future__ import annotations

from typing import Any

from blacksheep import Response, Router, json

from sheepfold.http.admin import admin_only
from sheepfold.http.openapi import admin_docs, json_response
from sheepfold.platform import Platform


def add_fleet_routes(router: Router, platform: Platform) -> None:
    @admin_only
    @admin_docs(
        summary="The live instances of the fleet, each with its capabilities' phases and vital signs",
        responses={200: json_response("The fleet as this instance sees it", dict[str, Any])},
    )
    async def fleet() -> Response:
        return json((await platform.fleet.view()).to_json())

    @admin_only
    @admin_docs(
        summary="This instance's own record (what its peers ask while the shared state is down)",
        responses={200: json_response("This instance now", dict[str, Any])},
    )
    async def own() -> Response:
        return json(platform.fleet.own_record().to_json())

    router.add_get("/-/fleet", fleet)
    router.add_get("/-/fleet/self", own)
