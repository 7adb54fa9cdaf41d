"""Admin routes: ``POST /realtime/publish`` and ``GET /realtime/sockets``."""

from __future__ import annotations

from blacksheep import Request, Response, Router, json

from sheepfold import admin_only, problem
from sheepfold.platform import Platform
from sheepfold_realtime.channels import ChannelRules
from sheepfold_realtime.hub import EventTooLarge, RealtimeHub
from sheepfold_realtime.identity import identity_of_session


def has_admin_role(request: Request, hub: RealtimeHub) -> bool:
    """True for a request whose session holds ``realtime.admin_role``."""
    try:
        session = request.session
    except TypeError:  # no session middleware (sheepfold-sessions not enabled)
        return False
    return session is not None and identity_of_session(session, hub.settings.roles_key).has_role(
        hub.settings.admin_role
    )


def add_routes(router: Router, platform: Platform, hub: RealtimeHub, rules: ChannelRules) -> None:
    """Both routes are admin routes (the kernel's guard: the admin token) that also admit the admin role."""

    def admin_role(request: Request) -> bool:
        return has_admin_role(request, hub)

    @admin_only(also_admits=admin_role)
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

    @admin_only(also_admits=admin_role)
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
