"""The harness's plugin (loaded from ``plugins.directory``): the routes the fleet is loaded with.

Each route echoes who it served in ``X-Fleet-Subject`` (and the JSON body), so
the proxy's log can tell a signed-in client served as anonymous. Only the
kernel's public API is used, as any plugin must.

- ``GET /fleet/work``: rate-limited (the default policy), session-reading
  (the identity) and cache-reading (a response cached per user): three
  Redis calls per request, the route of issue #18's fleet runs.
- ``GET /fleet/db``: one query of ``fleet.query_seconds`` (5 ms: an indexed
  read, so that pool use shows) on a connection of the watched pool.
- ``GET /fleet/job``: enqueues a high-priority no-op job (a GET so that the
  load generator, which sends one method, can mix it in).
"""

from __future__ import annotations

from blacksheep import Request, Response, Router, json

from sheepfold import Database, Identity, Jobs, Platform, hookimpl
from sheepfold.cache import ResponseCache
from sheepfold.jobs import JobContext, JobDefinition

QUEUE = "fleet"
SUBJECT_HEADER = b"X-Fleet-Subject"


async def fleet_noop(ctx: JobContext) -> int:
    """The priority job: nothing to do, so its queue time is all that is measured."""
    return ctx.job_try


def _echo(identity: Identity, **extra: object) -> Response:
    response = json({"subject": identity.subject, **extra})
    if identity.subject is not None:
        response.headers[SUBJECT_HEADER] = identity.subject.encode()
    return response


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    responses = ResponseCache.of(platform)
    ttl = float(platform.settings.get("fleet.cache_ttl", 30))
    query_seconds = float(platform.settings.get("fleet.query_seconds", 0.005))

    async def work(request: Request) -> Response:
        return _echo(await platform.identify(request))

    async def database(request: Request, db: Database) -> Response:
        async with db.driver_connection() as connection:
            value = await connection.fetchval("SELECT 1 FROM pg_sleep($1)", query_seconds)
        return _echo(await platform.identify(request), value=value)

    async def job(request: Request, jobs: Jobs) -> Response:
        job_id = await jobs.enqueue("fleet_noop", queue=QUEUE, priority="high")
        return _echo(await platform.identify(request), job_id=job_id)

    router.add_get("/fleet/work", responses.cached(work, namespace="fleet", ttl=ttl))
    router.add_get("/fleet/db", database)
    router.add_get("/fleet/job", job)


@hookimpl
def sheepfold_jobs() -> list[JobDefinition]:
    return [JobDefinition(fleet_noop, queue=QUEUE, timeout=10, max_tries=3)]
