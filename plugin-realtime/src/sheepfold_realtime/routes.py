"""Admin routes: ``POST /realtime/publish`` and ``GET /realtime/sockets``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from blacksheep import Request, Response, Router, json

from sheepfold import Pattern, admin_docs, admin_only, json_response, problem, problem_response, read_json
from sheepfold_realtime.channels import REALTIME_ADMIN, ChannelRules
from sheepfold_realtime.hub import EventTooLarge, RealtimeHub


@dataclass
class Publication:
    """The body of ``POST /realtime/publish``: any JSON ``event`` for the sockets of ``channel``."""

    channel: Annotated[str, Pattern(r'^(?!-)[^\s"\\\u0000-\u001f\u007f]{1,200}$', "a channel name")]
    event: Any


def add_routes(router: Router, hub: RealtimeHub, rules: ChannelRules) -> None:
    """Both routes are admin routes: the admin token, or an identity allowed ``realtime.admin``."""

    @admin_only(action=REALTIME_ADMIN)
    @admin_docs(
        summary="Publish an event to a channel's sockets, on every instance",
        body=Publication,
        responses={
            202: json_response("Published: how many local sockets got it", dict[str, Any]),
            404: problem_response("No channel rule covers the channel."),
            413: problem_response("The event is over realtime.max_event_size, or the body over http.max_body_size."),
        },
    )
    async def publish(request: Request) -> Response:
        body: Publication = await read_json(request, Publication)  # after the guard: a stranger's body is not parsed
        channel = body.channel
        if rules.rule_for(channel) is None:
            return problem(404, f"No channel rule covers {channel!r}.")
        try:
            outcome = await hub.publish(channel, body.event)
        except EventTooLarge as error:
            return problem(413, str(error))
        except ValueError as error:
            return problem(400, str(error))
        return json(outcome.to_json(), status=202)

    @admin_only(action=REALTIME_ADMIN)
    @admin_docs(
        summary="This instance's sockets and channel rules",
        responses={200: json_response("Sockets", dict[str, Any])},
    )
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
