"""Admin routes: ``POST /realtime/publish`` and ``GET /realtime/sockets``."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from blacksheep import Request, Response, Router, json

from sheepfold import Pattern, json_response, problem, problem_response, read_json, route_docs
from sheepfold.platform import Platform
from sheepfold_realtime.channels import ChannelRules
from sheepfold_realtime.hub import EventTooLarge, RealtimeHub
from sheepfold_realtime.identity import identity_of_session


@dataclass
class Publication:
    """The body of ``POST /realtime/publish``: any JSON ``event`` for the sockets of ``channel``."""

    channel: Annotated[str, Pattern(r'^(?!-)[^\s"\\\u0000-\u001f\u007f]{1,200}$', "a channel name")]
    event: Any


_FORBIDDEN = {403: problem_response("Needs a session with the admin role, or the admin token.")}


def is_realtime_admin(request: Request, platform: Platform, hub: RealtimeHub) -> bool:
    """True for a session with the admin role, or a request bearing ``admin.token`` (when one is set).

    Unlike the kernel's introspection routes, an unset token admits no one:
    publishing to every socket is never open by default.
    """
    try:
        session = request.session
    except TypeError:  # no session middleware (sheepfold-sessions not enabled)
        session = None
    if session is not None and identity_of_session(session, hub.settings.roles_key).has_role(hub.settings.admin_role):
        return True
    token = str(platform.settings.get("admin.token") or "")
    header = request.get_first_header(b"authorization") or b""
    scheme, _, presented = header.partition(b" ")
    return bool(token) and scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(), token.encode())


def add_routes(router: Router, platform: Platform, hub: RealtimeHub, rules: ChannelRules) -> None:
    @route_docs(
        summary="Publish an event to a channel's sockets, on every instance",
        body=Publication,
        responses={
            202: json_response("Published: how many local sockets got it", dict[str, Any]),
            404: problem_response("No channel rule covers the channel."),
            413: problem_response("The event is over realtime.max_event_size, or the body over http.max_body_size."),
            **_FORBIDDEN,
        },
    )
    async def publish(request: Request) -> Response:
        if not is_realtime_admin(request, platform, hub):
            return problem(403, "Publishing needs the admin role or the admin token.")
        body: Publication = await read_json(request, Publication)  # after the check: a stranger's body is not parsed
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

    @route_docs(
        summary="This instance's sockets and channel rules",
        responses={200: json_response("Sockets", dict[str, Any]), **_FORBIDDEN},
    )
    async def sockets(request: Request) -> Response:
        if not is_realtime_admin(request, platform, hub):
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
