"""Admin routes: fleet statistics at ``/-/jobs`` and the failed-jobs list (inspect, retry)."""

from __future__ import annotations

from blacksheep import Request, Response, Router, json

from sheepfold import admin_only, problem
from sheepfold.jobs import Jobs
from sheepfold.platform import Platform


def add_admin_routes(router: Router, platform: Platform) -> None:
    """``GET /-/jobs``, ``GET /-/jobs/failed``, ``GET /-/jobs/failed/{job_id}``, ``POST /-/jobs/failed/{job_id}/retry``.

    All are admin routes (:func:`sheepfold.admin_only`), like ``/-/plugins``.
    """
    jobs: Jobs = platform.require(Jobs)

    @admin_only
    async def statistics() -> Response:
        return json((await jobs.statistics()).to_json())

    @admin_only
    async def failed_list(request: Request) -> Response:
        limit = request.query.get("limit", ["100"])[0]
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            return problem(400, "limit must be a whole number from 1 to 1000.")
        return json([failed.to_json() for failed in await jobs.failed_jobs(int(limit))])

    @admin_only
    async def failed_one(job_id: str) -> Response:
        failed = await jobs.failed_job(job_id)
        return problem(404, "No such job in the failed list.") if failed is None else json(failed.to_json())

    @admin_only
    async def retry(job_id: str) -> Response:
        if not await jobs.retry_failed(job_id):
            return problem(404, "No such job in the failed list.")
        return json({"job_id": job_id, "status": "queued"}, status=202)

    router.add_get("/-/jobs", statistics)
    router.add_get("/-/jobs/failed", failed_list)
    router.add_get("/-/jobs/failed/{job_id}", failed_one)
    router.add_post("/-/jobs/failed/{job_id}/retry", retry)
