"""``sheepfold jobs stats|failed|show|retry|discard``: the failed-jobs list from the command line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from sheepfold import create_app
from sheepfold.jobs import Jobs, JobStatus
from sheepfold_jobs import cli as commands
from sheepfold_jobs import plugin as jobs_plugin
from sheepfold_redis import plugin as redis_plugin
from tests.jobs.served_plugins import crash_jobs
from tests.jobs.test_worker_crash import PLUGINS, worker_settings
from tests.support.admin import ADMIN_ENV
from tests.support.redis_server import RedisServer


async def make_failed_job(redis_url: str) -> str:
    app = create_app(
        {"plugins": {"directory": str(PLUGINS)}, "redis": {"url": redis_url},
         "jobs": {"backend": "arq", "fallback": "spool", "metrics_interval": 0, "worker": {"embedded": True}}},
        plugins=[redis_plugin, jobs_plugin], load_entry_points=False,
    )  # fmt: skip
    await app.start()
    try:
        jobs = app.platform.require(Jobs)
        job_id = await jobs.enqueue("reject", ("no such document",))
        async with asyncio.timeout(10):
            while await jobs.status(job_id) is not JobStatus.FAILED:
                await asyncio.sleep(0.02)
        return job_id
    finally:
        await app.stop()


def test_failed_jobs_are_listed_shown_retried_and_discarded_from_the_command_line(tmp_path: Path):
    with RedisServer() as server:
        job_id = asyncio.run(make_failed_job(server.url))
        runner = CliRunner()
        env = {
            **ADMIN_ENV,
            "SHEEPFOLD_ENV": "testing",
            "SHEEPFOLD_SETTINGS_FILE": str(worker_settings(tmp_path, server.url)),
        }

        listing = runner.invoke(commands.jobs, ["failed"], env=env)
        assert listing.exit_code == 0, listing.output
        assert job_id in listing.output and "reject" in listing.output and "no such document" in listing.output

        shown = runner.invoke(commands.jobs, ["show", job_id], env=env)
        assert shown.exit_code == 0, shown.output
        entry = json.loads(shown.output)
        assert entry["function"] == "reject" and entry["queue"] == crash_jobs.QUEUE and entry["tries"] == 1

        stats = runner.invoke(commands.jobs, ["stats"], env=env)
        assert json.loads(stats.output)["queues"][crash_jobs.QUEUE]["normal"]["failed"] == 1
        one_queue = runner.invoke(commands.jobs, ["stats", "--queue", crash_jobs.QUEUE], env=env)
        assert list(json.loads(one_queue.output)["queues"]) == [crash_jobs.QUEUE]
        unknown = runner.invoke(commands.jobs, ["stats", "--queue", "nowhere"], env=env)
        assert unknown.exit_code == 1 and "no job queue named 'nowhere'" in unknown.output

        retried = runner.invoke(commands.jobs, ["retry", job_id], env=env)
        assert retried.exit_code == 0 and "queued again" in retried.output
        assert runner.invoke(commands.jobs, ["retry", job_id], env=env).exit_code != 0
        assert runner.invoke(commands.jobs, ["show", "unknown"], env=env).exit_code != 0

        other = asyncio.run(make_failed_job(server.url))
        discarded = runner.invoke(commands.jobs, ["discard", other], env=env)
        assert discarded.exit_code == 0 and "discarded" in discarded.output
        assert runner.invoke(commands.jobs, ["discard", other], env=env).exit_code != 0
        assert runner.invoke(commands.jobs, ["show", other], env=env).exit_code != 0
