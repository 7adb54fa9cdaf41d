"""plugin-jobs in an app: the embedded worker, admin routes, /metrics, and a stock arq worker running our jobs."""

from __future__ import annotations

import asyncio
from importlib import metadata

from arq.worker import Worker, func
from blacksheep.testing import TestClient
from click.testing import CliRunner

from sheepfold.jobs import Jobs, JobStatus
from sheepfold_jobs import ArqJobs, arq_redis
from sheepfold_jobs import cli as commands
from sheepfold_redis import RedisConnection
from tests.jobs.conftest import arq_settings, running_app
from tests.support.admin import ADMIN_ENV, ADMIN_HEADERS
from tests.support.job_functions import FIXED, RUNS, fresh_key

TOKEN = {"Authorization": "Bearer an-admin-token-for-the-jobs-tests-0123"}


async def wait_for(jobs: Jobs, job_id: str, status: JobStatus, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while await jobs.status(job_id) is not status:
            await asyncio.sleep(0.02)


async def test_the_embedded_worker_runs_jobs_in_the_server_process(redis_url):
    async with running_app(arq_settings(redis_url)) as app:
        jobs = app.platform.require(Jobs)
        assert isinstance(jobs.backend, ArqJobs)
        key = fresh_key()
        job_id = await jobs.enqueue("record", (key, "hi"), priority="high")
        await wait_for(jobs, job_id, JobStatus.COMPLETE)
        assert (await jobs.result(job_id)).value == "hi"


async def test_admin_routes_show_fleet_statistics_and_retry_or_discard_failed_jobs(redis_url):
    settings = arq_settings(redis_url, admin={"token": "an-admin-token-for-the-jobs-tests-0123"})
    async with running_app(settings) as app:
        client = TestClient(app)
        jobs = app.platform.require(Jobs)
        key = fresh_key()
        job_id = await jobs.enqueue("refuse", (key,))
        await wait_for(jobs, job_id, JobStatus.FAILED)

        assert (await client.get("/-/jobs")).status == 401
        stats = await (await client.get("/-/jobs", headers=TOKEN)).json()
        assert stats["queues"]["default"]["normal"]["failed"] == 1
        one_queue = await (await client.get("/-/jobs?queue=default", headers=TOKEN)).json()
        assert one_queue == {"queues": {"default": stats["queues"]["default"]}}
        assert (await client.get("/-/jobs?queue=nowhere", headers=TOKEN)).status == 404
        listing = await (await client.get("/-/jobs/failed", headers=TOKEN)).json()
        assert [entry["job_id"] for entry in listing] == [job_id]
        one = await (await client.get(f"/-/jobs/failed/{job_id}", headers=TOKEN)).json()
        assert one["function"] == "refuse" and "the input is invalid" in one["error"] and one["tries"] == 1
        assert (await client.get("/-/jobs/failed/nope", headers=TOKEN)).status == 404

        FIXED.add(key)
        response = await client.post(f"/-/jobs/failed/{job_id}/retry", headers=TOKEN)
        assert response.status == 202
        await wait_for(jobs, job_id, JobStatus.COMPLETE)
        assert RUNS[key] == [1, 1]
        assert (await client.post(f"/-/jobs/failed/{job_id}/retry", headers=TOKEN)).status == 404

        refused = await jobs.enqueue("refuse", (fresh_key(),))
        await wait_for(jobs, refused, JobStatus.FAILED)
        assert (await client.post(f"/-/jobs/failed/{refused}/discard")).status == 401
        response = await client.post(f"/-/jobs/failed/{refused}/discard", headers=TOKEN)
        assert response.status == 200 and (await response.json())["status"] == "discarded"
        assert await jobs.failed_job(refused) is None
        assert (await client.post(f"/-/jobs/failed/{refused}/discard", headers=TOKEN)).status == 404


async def test_metrics_show_job_counts_and_queue_times(redis_url):
    async with running_app(arq_settings(redis_url)) as app:
        jobs = app.platform.require(Jobs)
        job_id = await jobs.enqueue("record", (fresh_key(),), priority="low")
        await wait_for(jobs, job_id, JobStatus.COMPLETE)
        client = TestClient(app)
        async with asyncio.timeout(5):
            while True:
                text = await (await client.get("/metrics", headers=ADMIN_HEADERS)).text()
                if 'sheepfold_jobs{priority="low",queue="default",state="completed"} 1.0' in text:
                    break
                await asyncio.sleep(0.05)
        assert 'sheepfold_jobs_queue_time_seconds{priority="low",quantile="0.95",queue="default"}' in text


async def bare_record(ctx: dict, key: str, value: object = None) -> object:
    """A plain arq function: what an arq user already has, knowing nothing of sheepfold."""
    RUNS[key].append(ctx["job_try"])
    return value


async def test_a_stock_arq_worker_runs_a_job_enqueued_through_sheepfold(redis_url):
    settings = arq_settings(redis_url, jobs={"worker": {"embedded": False}})
    async with running_app(settings) as app:
        jobs = app.platform.require(Jobs)
        key = fresh_key()
        job_ids = [
            await jobs.enqueue("record", (key, "normal")),
            await jobs.enqueue("record", (key, "high"), priority="high"),
        ]
        connection = app.platform.require(RedisConnection)
        stock = Worker(
            functions=[func(bare_record, name="record")],
            queue_name=jobs.backend.keys("default").arq_queue,
            redis_pool=arq_redis(connection),
            burst=True,
            handle_signals=False,
            poll_delay=0.05,
        )
        await stock.main()
        assert sorted(RUNS[key]) == [1, 1]
        for job_id in job_ids:
            assert await jobs.status(job_id) is JobStatus.COMPLETE
        assert {(await jobs.result(job_id)).value for job_id in job_ids} == {"normal", "high"}


def test_sheepfold_worker_needs_the_arq_backend(tmp_path):
    others = sorted(ep.name for ep in metadata.entry_points(group="sheepfold.plugins") if ep.name != "jobs")
    settings = tmp_path / "settings.toml"
    settings.write_text(f"[testing]\nplugins = {{ disabled = {others!r} }}\n".replace("'", '"'))
    env = {**ADMIN_ENV, "SHEEPFOLD_ENV": "testing", "SHEEPFOLD_SETTINGS_FILE": str(settings)}
    result = CliRunner().invoke(commands.worker, [], env=env)
    assert result.exit_code != 0 and "jobs.backend = 'arq'" in result.output
