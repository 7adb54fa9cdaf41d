"""A test plugin: the channel ``orders`` (signed-in users only), ``realtime.admin`` for ``support``, a login route.

Loaded in-process by the endpoint tests and through ``plugins.directory`` by the served instances.
"""

from __future__ import annotations

from blacksheep import Request, Response, Router, json

from sheepfold import Identity, Platform, hookimpl
from sheepfold_realtime import REALTIME_ADMIN, ChannelRule
from sheepfold_sessions import sign_in


def _signed_in(identity: Identity, _channel: str) -> bool:
    return not identity.anonymous


@hookimpl
def sheepfold_realtime_channels(platform: Platform) -> list[ChannelRule]:
    assert isinstance(platform, Platform)
    return [ChannelRule("orders", _signed_in, "signed-in users")]


@hookimpl
def sheepfold_permission_allowed(identity: Identity, action: str) -> bool | None:
    # The support role may do what realtime's admins do (join ``admin``, publish), and nothing else of an admin.
    return True if action == REALTIME_ADMIN and identity.has_role("support") else None


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    async def login(request: Request) -> Response:
        body = await request.json()
        sign_in(platform, request, body["user"], body.get("roles") or ())
        return json({"user": body["user"]})

    router.add_post("/t/login", login)
