"""Priority jobs run during a Redis outage count in the fleet's statistics, and the outage is logged quietly.

As in the fleet harness: an instance (arq, spool fallback running high
priority jobs itself) beside a real ``sheepfold worker`` process, on a
redis-server of the test's own that is killed and started again.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from sheepfold import BackendUnavailable, PlatformApplication, Recovery, create_app
from sheepfold.jobs import Jobs, JobStatus, Priority
from sheepfold_jobs import plugin as jobs_plugin
from sheepfold_jobs.runner import WorkerPool
from sheepfold_jobs.spool import drain_spool
from sheepfold_redis import plugin as redis_plugin
from tests.jobs.conftest import arq_settings, running_app
from tests.jobs.served_plugins import crash_jobs
from tests.jobs.test_outage_runs_once import PERSISTENT
from tests.jobs.test_worker_crash import PLUGINS, worker_process, worker_settings
from tests.support.job_functions import fresh_key
from tests.support.redis_server import RedisServer

QUEUE = crash_jobs.QUEUE


def gauge(app: PlatformApplication, name: str, **labels: str) -> float | None:
    return app.platform.metrics.registry.get_sample_value(name, {"queue": QUEUE, "priority": "high", **labels})


async def until(condition, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_priority_jobs_run_during_an_outage_count_in_the_fleet_statistics_when_redis_returns(tmp_path):
    with RedisServer(extra=PERSISTENT) as server:  # the worker's count survives the SIGKILL
        app = create_app(
            {"plugins": {"directory": str(PLUGINS)}, "redis": {"url": server.url}, "switch": {"probe_interval": 0.1},
             "jobs": {"backend": "arq", "fallback": "spool", "metrics_interval": 0.1,
                      "spool": {"run_priorities": ["high"]}}},
            plugins=[redis_plugin, jobs_plugin], load_entry_points=False,
        )  # fmt: skip
        await app.start()
        try:
            jobs = app.platform.require(Jobs)
            completed = {"state": "completed"}
            with worker_process(worker_settings(tmp_path, server.url)):
                first = await jobs.enqueue("noop", priority="high")  # before the outage: the worker runs it
                async with asyncio.timeout(30):  # start-up of a Python process included
                    while await jobs.status(first) is not JobStatus.COMPLETE:
                        await asyncio.sleep(0.05)
                await until(lambda: gauge(app, "sheepfold_jobs", **completed) == 1)

                server.kill()
                for _ in range(5):  # the instance runs these itself: Redis cannot take them
                    await jobs.enqueue("noop", priority="high")
                assert not jobs.on_backend
                await until(lambda: gauge(app, "sheepfold_jobs", **completed) == 5)  # this instance's, meanwhile

                server.start()
                await until(lambda: jobs.on_backend and gauge(app, "sheepfold_jobs", **completed) == 6)
                high = (await jobs.statistics(queue=QUEUE)).queues[QUEUE]["high"]
                assert (high.completed, high.failed, high.waiting, high.active) == (6, 0, 0, 0)
                assert high.queue_time_p95 is not None and high.queue_time_p95 < 5
                assert gauge(app, "sheepfold_jobs_queue_time_seconds", quantile="0.95") == high.queue_time_p95
        finally:
            await app.stop()


async def test_outage_runs_that_redis_could_not_take_are_kept_and_counted_once_it_does():
    with RedisServer() as server:
        settings = arq_settings(server.url, jobs={"spool": {"run_priorities": ["high"]}, "worker": {"embedded": False}})
        async with running_app(settings) as app:
            jobs = app.platform.require(Jobs)
            switch = app.platform.capabilities["jobs"]
            runner = jobs.fallback.runner
            server.kill()
            for _ in range(3):
                await jobs.enqueue("record_queue_time", (fresh_key(),), priority="high")
            await until(lambda: runner.unrecorded.get(("default", Priority.HIGH), None) is not None
                        and runner.unrecorded[("default", Priority.HIGH)].completed == 3)  # fmt: skip

            recovery = Recovery("jobs", "arq", jobs.backend, jobs.fallback, switch.adapter_as)
            with pytest.raises(BackendUnavailable):
                await drain_spool(recovery)  # Redis is still down: nothing is lost
            kept = runner.unrecorded[("default", Priority.HIGH)]
            assert (kept.completed, len(kept.queue_times_ms)) == (3, 3)

            server.start()
            await until(lambda: jobs.on_backend)
            high = (await jobs.statistics(queue="default")).queues["default"]["high"]
            assert high.completed == 3 and high.queue_time_p95 is not None
            assert not runner.unrecorded


async def test_a_redis_outage_is_one_warning_per_queue_with_the_tracebacks_at_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="sheepfold.jobs.worker")
    with RedisServer() as server:
        async with running_app(arq_settings(server.url)) as app:
            queues = sorted(app.platform.require(WorkerPool).workers)
            server.kill()
            # idle_poll 0.2: a dozen failed polls per queue in a few seconds
            await until(lambda: sum("poll 12 failed" in r.getMessage() for r in caplog.records) >= len(queues), 20)
            polls = [record for record in caplog.records if "poll" in record.getMessage()]
            warnings = [record for record in polls if record.levelno >= logging.WARNING]
            assert sorted(record.getMessage().split(":")[0] for record in warnings) == [f"queue {q}" for q in queues]
            assert all(record.exc_info is None and "unavailable" in record.getMessage() for record in warnings)
            debug = [record for record in polls if record.levelno == logging.DEBUG]
            assert len(debug) >= 12 * len(queues) and all(record.exc_info is not None for record in debug)

            server.start()
            await until(lambda: sum("answers again" in r.getMessage() for r in caplog.records) == len(queues), 20)
            assert app.platform.capabilities["jobs"].active_name == "arq"
