"""``GET /example/realtime``: a page that signs in, opens ``/ws`` and shows events as they arrive.

It shows the user's own channel (``user:<name>``) and ``platform`` (admin
broadcasts: ``POST /realtime/publish``). ``POST /example/realtime/jobs``
enqueues a word count whose result the job itself publishes to the user's
channel, so the page shows it without polling. The routes exist only when
``sheepfold-realtime`` and ``sheepfold-sessions`` are enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

from blacksheep import Request, Response, Router, json
from blacksheep.contents import Content
from blacksheep.server.openapi.common import ContentInfo, ResponseInfo

from sheepfold import Identity, Length, Platform, json_response, problem, problem_response, read_json, route_docs
from sheepfold.jobs import JobContext, JobDefinition, Jobs
from sheepfold_sessions import UserSessions

QUEUE = "example"
MAX_TEXT = 10_000


async def count_words_for(ctx: JobContext, user: str, text: str) -> dict[str, Any]:
    """Count the words of ``text`` and push the result to ``user:<user>`` (idempotent: a rerun pushes it again)."""
    from sheepfold_realtime import publish

    result = {"job": ctx.job_id, "words": len(text.split())}
    if ctx.platform is not None:
        await publish(ctx.platform, f"user:{user}", result)
    return result


@dataclass
class PushedWordCount:
    """The body of ``POST /example/realtime/jobs``."""

    text: Annotated[str, Length(1, MAX_TEXT)]


@dataclass
class Started:
    job_id: str


JOBS = [JobDefinition(count_words_for, queue=QUEUE, timeout=30, max_tries=3)]


def add_routes(router: Router, platform: Platform) -> None:
    """Add the page and its job route when realtime and sessions are enabled."""
    try:
        from sheepfold_realtime import RealtimeHub
    except ImportError:
        return
    if platform.find(RealtimeHub) is None or platform.find(UserSessions) is None:
        return
    page = resources.files("sheepfold_example").joinpath("realtime_page.html").read_bytes()

    @route_docs(
        summary="A page that shows your realtime events",
        responses={200: ResponseInfo("The page", content=[ContentInfo(str, content_type="text/html")])},
    )
    async def show_page() -> Response:
        return Response(200, content=Content(b"text/html; charset=utf-8", page))

    @route_docs(
        summary="Count words in a job that pushes its result to your socket",
        body=PushedWordCount,
        responses={202: json_response("Enqueued", Started), 401: problem_response("Not signed in.")},
    )
    async def start_job(request: Request, identity: Identity) -> Response:
        user = identity.subject
        if user is None:
            return problem(401, "Sign in first: POST /example/login.")
        body: PushedWordCount = await read_json(
            request, PushedWordCount
        )  # after the sign-in check: no parsing for strangers
        job_id = await platform.require(Jobs).enqueue("count_words_for", (user, body.text))
        return json({"job_id": job_id}, status=202)

    router.add_get("/example/realtime", show_page)
    router.add_post("/example/realtime/jobs", start_job)
