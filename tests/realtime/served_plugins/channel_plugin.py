"""A test plugin: declares the channel ``orders`` (signed-in users only) and a login route for tests.

Loaded in-process by the endpoint tests and through ``plugins.directory`` by the served instances.
"""

from __future__ import annotations

from blacksheep import Request, Response, Router, json

from sheepfold import Platform, hookimpl
from sheepfold_realtime import ChannelRule, Identity


def _signed_in(identity: Identity, _channel: str) -> bool:
    return identity.authenticated


@hookimpl
def sheepfold_realtime_channels() -> list[ChannelRule]:
    return [ChannelRule("orders", _signed_in, "signed-in users")]


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    async def login(request: Request) -> Response:
        body = await request.json()
        request.session["user"] = body["user"]
        if body.get("roles"):
            request.session["roles"] = body["roles"]
        return json({"user": body["user"]})

    router.add_post("/t/login", login)
