"""Admin routes: ``POST /realtime/publish`` and ``GET /realtime/sockets``."""

from __future__ import annotations

import hmac

from blacksheep import Request, Response, Router, json

from sheepfold import Platform, problem
from sheepfold_realtime.channels import REALTIME_ADMIN, ChannelRules
from sheepfold_realtime.hub import EventTooLarge, RealtimeHub


async def is_realtime_admin(request: Request, platform: Platform) -> bool:
    """True for an identity allowed ``realtime.admin``, or a request bearing ``admin.token`` (when one is set).

    Unlike the kernel's introspection routes, an unset token admits no one:
    publishing to every socket is never open by default.
    """
    if platform.allowed(await platform.identify(request), REALTIME_ADMIN):
        return True
    token = str(platform.settings.get("admin.token") or "")
    header = request.get_first_header(b"authorization") or b""
    scheme, _, presented = header.partition(b" ")
    return bool(token) and scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(), token.encode())


def add_routes(router: Router, platform: Platform, hub: RealtimeHub, rules: ChannelRules) -> None:
    async def publish(request: Request) -> Response:
        if not await is_realtime_admin(request, platform):
            return problem(403, "Publishing needs the admin role or the admin token.")
        body = await request.json() if request.declares_json() else None
        if not isinstance(body, dict) or not isinstance(body.get("channel"), str) or "event" not in body:
            return problem(400, 'Send {"channel": "<name>", "event": <any JSON>}.')
        channel = body["channel"]
        if rules.rule_for(channel) is None:
            return problem(400, f"No channel rule covers {channel!r}.")
        try:
            outcome = await hub.publish(channel, body["event"])
        except EventTooLarge as error:
            return problem(413, str(error))
        except ValueError as error:
            return problem(400, str(error))
        return json(outcome.to_json(), status=202)

    async def sockets(request: Request) -> Response:
        if not await is_realtime_admin(request, platform):
            return problem(403, "Listing sockets needs the admin role or the admin token.")
        return json(
            {
                "instance": hub.instance_id,
                "linked": hub.linked,
                "channels": rules.describe(),
                "sockets": [socket.describe() for socket in hub.sockets],
            }
        )

    router.add_post("/realtime/publish", publish)
    router.add_get("/realtime/sockets", sockets)
