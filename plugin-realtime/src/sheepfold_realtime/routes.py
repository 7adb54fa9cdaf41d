"""Admin routes: ``POST /realtime/publish`` and ``GET /realtime/sockets``."""

from __future__ import annotations

from blacksheep import Request, Response, Router, json

from sheepfold import admin_only, problem
from sheepfold_realtime.channels import REALTIME_ADMIN, ChannelRules
from sheepfold_realtime.hub import EventTooLarge, RealtimeHub


def add_routes(router: Router, hub: RealtimeHub, rules: ChannelRules) -> None:
    """Both routes are admin routes: the admin token, or an identity allowed ``realtime.admin``."""

    @admin_only(action=REALTIME_ADMIN)
    async def publish(request: Request) -> Response:
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

    @admin_only(action=REALTIME_ADMIN)
    async def sockets() -> Response:
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
