"""``/-/console/api/...``: the JSON twin of every figure the page shows, and the actions its buttons take."""

from __future__ import annotations

from typing import Any

from blacksheep import Request, Response, Router, json

from sheepfold import Platform, admin_docs, admin_only, json_response, problem, problem_response
from sheepfold.jobs import Jobs
from sheepfold_console.audit import actor_of, audit, from_another_site
from sheepfold_console.figures import fleet_figures, jobs_figures, snapshot, statistics_figures
from sheepfold_console.settings import ConsoleSettings

API = "/-/console/api"
_OTHER_SITE = problem_response("Sent from a page of another site (its Origin is not this host).")
_NOT_FAILED = problem_response("No such job in the failed list.")
_DOWN = problem_response("The job queue's backend is down: the failed list is there, not here.")


def _refusal(request: Request, platform: Platform) -> Response | None:
    """Why an action on the failed list is refused before it is tried, or None."""
    if from_another_site(request):
        return problem(403, "This action must come from the console's own page.")
    switch = platform.capabilities.get("jobs")
    if switch is not None and not switch.on_backend:
        return problem(503, "The job queue's backend is down; try again once it is back.")
    return None


def add_api_routes(router: Router, platform: Platform, settings: ConsoleSettings, live: dict[str, Any]) -> None:
    """The read routes (snapshot, fleet, statistics, jobs, one job's status) and the failed-job actions."""

    async def everything() -> dict[str, Any]:
        return await snapshot(platform, failed_limit=settings.failed_jobs, live=live)

    @admin_only
    @admin_docs(
        summary="Everything the console shows at once (what its live feed pushes)",
        responses={200: json_response("The fleet, this instance's statistics, the job queues", dict[str, Any])},
    )
    async def get_snapshot() -> Response:
        return json(await everything())

    @admin_only
    @admin_docs(
        summary="The live instances, each with its capabilities' phases and vital signs",
        responses={200: json_response("The fleet", dict[str, Any])},
    )
    async def get_fleet() -> Response:
        return json(await fleet_figures(platform))

    @admin_only
    @admin_docs(
        summary="This instance's statistics sections (every plugin's sheepfold_statistics)",
        responses={200: json_response("Counters, gauges and tables by section", dict[str, Any])},
    )
    async def get_statistics() -> Response:
        return json(await statistics_figures(platform))

    @admin_only
    @admin_docs(
        summary="Job queues (every priority summed, and each) and the newest failed jobs, secrets redacted",
        responses={200: json_response("Queues and failed jobs", dict[str, Any])},
    )
    async def get_jobs() -> Response:
        return json(await jobs_figures(platform, failed_limit=settings.failed_jobs))

    @admin_only
    @admin_docs(summary="A job's status", responses={200: json_response("The job's status", dict[str, str])})
    async def get_job(job_id: str) -> Response:
        status = await platform.require(Jobs).status(job_id)
        return json({"job_id": job_id, "status": status.value})

    @admin_only
    @admin_docs(
        summary="Queue a failed job again, from try 1 (audit-logged)",
        responses={202: json_response("Queued", dict[str, str]), 403: _OTHER_SITE, 404: _NOT_FAILED, 503: _DOWN},
    )
    async def retry(job_id: str, request: Request) -> Response:
        if (refused := _refusal(request, platform)) is not None:
            return refused
        if not await platform.require(Jobs).retry_failed(job_id):
            return problem(404, "No such job in the failed list.")
        actor = await actor_of(request, platform)
        audit.info(
            "job %s retried by %s", job_id, actor, extra={"action": "jobs.retry", "actor": actor, "job_id": job_id}
        )
        return json({"job_id": job_id, "status": "queued"}, status=202)

    @admin_only
    @admin_docs(
        summary="Remove a failed job from the list without running it again (audit-logged)",
        responses={200: json_response("Discarded", dict[str, str]), 403: _OTHER_SITE, 404: _NOT_FAILED, 503: _DOWN},
    )
    async def discard(job_id: str, request: Request) -> Response:
        if (refused := _refusal(request, platform)) is not None:
            return refused
        if not await platform.require(Jobs).discard_failed(job_id):
            return problem(404, "No such job in the failed list.")
        actor = await actor_of(request, platform)
        audit.info(
            "job %s discarded by %s", job_id, actor, extra={"action": "jobs.discard", "actor": actor, "job_id": job_id}
        )
        return json({"job_id": job_id, "status": "discarded"})

    router.add_get(f"{API}/snapshot", get_snapshot)
    router.add_get(f"{API}/fleet", get_fleet)
    router.add_get(f"{API}/statistics", get_statistics)
    router.add_get(f"{API}/jobs", get_jobs)
    router.add_get(API + "/jobs/{job_id}", get_job)
    router.add_post(API + "/jobs/failed/{job_id}/retry", retry)
    router.add_post(API + "/jobs/failed/{job_id}/discard", discard)
