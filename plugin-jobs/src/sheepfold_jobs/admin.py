"""Admin routes: fleet statistics at ``/-/jobs`` and the failed-jobs list (inspect, retry, discard)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs

from blacksheep import Request, Response, Router, json

from sheepfold import Range, admin_docs, admin_only, json_response, problem, problem_response
from sheepfold.jobs import Jobs, UnknownJobQueue
from sheepfold.platform import Platform


def add_admin_routes(router: Router, platform: Platform) -> None:
    """``GET /-/jobs``, ``GET /-/jobs/failed``, ``GET /-/jobs/failed/{job_id}``, and ``POST`` to
    ``/-/jobs/failed/{job_id}/retry`` and ``/-/jobs/failed/{job_id}/discard``.

    All are admin routes (:func:`sheepfold.admin_only`), like ``/-/plugins``.
    """
    jobs: Jobs = platform.require(Jobs)

    @admin_only
    @admin_docs(
        summary="Job statistics of the fleet (every queue, or the one named)",
        query={"queue": str | None},
        responses={200: json_response("Statistics", dict[str, Any]), 404: problem_response("No such job queue.")},
    )
    async def statistics(request: Request) -> Response:
        queue = request.query.get("queue", [None])[0]
        try:
            return json((await jobs.statistics(queue=queue)).to_json())
        except UnknownJobQueue as error:
            return problem(404, str(error))

    @admin_only
    @admin_docs(
        summary="The newest failed jobs",
        query={"limit": Annotated[int, Range(1, 1000)] | None},
        responses={
            200: json_response("Failed jobs", list[dict[str, Any]]),
            400: problem_response("limit is not a whole number from 1 to 1000."),
        },
    )
    async def failed_list(request: Request) -> Response:
        # Blank values kept: "?limit=" is a bad limit, not an absent one (request.query drops it).
        query = parse_qs((request.url.query or b"").decode(errors="replace"), keep_blank_values=True)
        limit = query.get("limit", ["100"])[0]
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            return problem(400, "limit must be a whole number from 1 to 1000.")
        return json([failed.to_json() for failed in await jobs.failed_jobs(int(limit))])

    @admin_only
    @admin_docs(
        summary="One failed job",
        responses={200: json_response("The job", dict[str, Any]), 404: problem_response("Not in the failed list.")},
    )
    async def failed_one(job_id: str) -> Response:
        failed = await jobs.failed_job(job_id)
        return problem(404, "No such job in the failed list.") if failed is None else json(failed.to_json())

    @admin_only
    @admin_docs(
        summary="Queue a failed job again",
        responses={202: json_response("Queued", dict[str, str]), 404: problem_response("Not in the failed list.")},
    )
    async def retry(job_id: str) -> Response:
        if not await jobs.retry_failed(job_id):
            return problem(404, "No such job in the failed list.")
        return json({"job_id": job_id, "status": "queued"}, status=202)

    @admin_only
    @admin_docs(
        summary="Remove a failed job from the list without running it again",
        responses={200: json_response("Discarded", dict[str, str]), 404: problem_response("Not in the failed list.")},
    )
    async def discard(job_id: str) -> Response:
        if not await jobs.discard_failed(job_id):
            return problem(404, "No such job in the failed list.")
        return json({"job_id": job_id, "status": "discarded"})

    router.add_get("/-/jobs", statistics)
    router.add_get("/-/jobs/failed", failed_list)
    router.add_get("/-/jobs/failed/{job_id}", failed_one)
    router.add_post("/-/jobs/failed/{job_id}/retry", retry)
    router.add_post("/-/jobs/failed/{job_id}/discard", discard)
