"""A ``sheepfold worker`` process killed with SIGKILL mid-job: its jobs run again, none lost, none run too often.

Real worker processes on a redis-server of the test's own. Job timeout 3 s
and a crash margin of 1 s make the lease 4 s, so the jobs of the dead worker
must run again well within timeout + 15 s; the worker also knows a function
with a 600 s timeout, which must not lengthen the lease of other jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from sheepfold import create_app
from sheepfold.jobs import Jobs
from sheepfold_jobs import plugin as jobs_plugin
from sheepfold_redis import RedisConnection
from sheepfold_redis import plugin as redis_plugin
from tests.jobs.served_plugins import crash_jobs
from tests.support.admin import ADMIN_ENV
from tests.support.job_functions import fresh_key
from tests.support.redis_server import RedisServer

PLUGINS = Path(crash_jobs.__file__).parent
JOB_TIMEOUT = 3.0


def worker_settings(directory: Path, redis_url: str) -> Path:
    others = sorted(
        ep.name for ep in metadata.entry_points(group="sheepfold.plugins") if ep.name not in {"redis", "jobs"}
    )
    path = directory / "settings.toml"
    path.write_text(
        f"""
[testing]
plugins = {{ directory = "{PLUGINS}", disabled = {others!r} }}
redis = {{ url = "{redis_url}" }}

[testing.jobs]
backend = "arq"
fallback = "spool"
queues = {{ crash = {{ concurrency = 4 }} }}
worker = {{ idle_poll = 0.2, crash_margin = 1.0, shutdown_grace = 1.0 }}
""".replace("'", '"')
    )
    return path


@contextlib.contextmanager
def worker_process(
    settings: Path, queue: str = crash_jobs.QUEUE, **environment: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``sheepfold worker --queue QUEUE`` process on ``settings`` (more ``environment`` variables given); ended."""
    sheepfold = shutil.which("sheepfold", path=str(Path(sys.executable).parent))
    assert sheepfold, "the sheepfold command is not installed in this environment"
    env = {**os.environ, **ADMIN_ENV, "SHEEPFOLD_ENV": "testing", "SHEEPFOLD_SETTINGS_FILE": str(settings)}
    process = subprocess.Popen([sheepfold, "worker", "--queue", queue], env={**env, **environment}, cwd=settings.parent)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def test_jobs_of_a_worker_killed_mid_job_run_again_once(tmp_path):
    with RedisServer() as server:
        settings = worker_settings(tmp_path, server.url)
        app = create_app(
            {"plugins": {"directory": str(PLUGINS)}, "redis": {"url": server.url},
             "jobs": {"backend": "arq", "fallback": "spool", "metrics_interval": 0}},
            plugins=[redis_plugin, jobs_plugin], load_entry_points=False,
        )  # fmt: skip
        await app.start()
        try:
            jobs = app.platform.require(Jobs)
            client = app.platform.require(RedisConnection).client
            key = fresh_key()
            job_ids = [await jobs.enqueue("slow_record", (key, 1.5)) for _ in range(6)]

            with worker_process(settings) as first:
                async with asyncio.timeout(30):  # start-up of a Python process included
                    while await client.llen(crash_jobs.starts_key(key)) < 4:
                        await asyncio.sleep(0.02)
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
                killed_at = time.monotonic()
            in_flight = {
                entry.decode().split(":")[0] for entry in await client.lrange(crash_jobs.starts_key(key), 0, -1)
            }
            assert len(in_flight) == 4 and await client.llen(crash_jobs.finishes_key(key)) == 0

            with worker_process(settings):
                async with asyncio.timeout(JOB_TIMEOUT + 15 + 10):  # + a process start-up
                    while await client.llen(crash_jobs.finishes_key(key)) < 6:
                        await asyncio.sleep(0.05)
                rerun_within = time.monotonic() - killed_at
                await asyncio.sleep(1.0)  # nothing more may run

            finishes = Counter(entry.decode() for entry in await client.lrange(crash_jobs.finishes_key(key), 0, -1))
            starts = Counter(
                entry.decode().split(":")[0] for entry in await client.lrange(crash_jobs.starts_key(key), 0, -1)
            )
            assert finishes == Counter({job_id: 1 for job_id in job_ids})  # none lost, none finished twice
            assert starts == Counter({job_id: 2 if job_id in in_flight else 1 for job_id in job_ids})
            assert rerun_within < JOB_TIMEOUT + 15 + 10
            tries = {entry.decode() for entry in await client.lrange(crash_jobs.starts_key(key), 0, -1)}
            assert {f"{job_id}:2" for job_id in in_flight} <= tries  # the rerun sees job_try 2
        finally:
            await app.stop()


async def test_a_worker_stopped_with_sigterm_hands_its_unfinished_jobs_back_at_once(tmp_path):
    with RedisServer() as server:
        settings = worker_settings(tmp_path, server.url)
        app = create_app(
            {"plugins": {"directory": str(PLUGINS)}, "redis": {"url": server.url},
             "jobs": {"backend": "arq", "fallback": "spool", "metrics_interval": 0}},
            plugins=[redis_plugin, jobs_plugin], load_entry_points=False,
        )  # fmt: skip
        await app.start()
        try:
            jobs = app.platform.require(Jobs)
            client = app.platform.require(RedisConnection).client
            key = fresh_key()
            job_ids = [await jobs.enqueue("slow_record", (key, 2.5)) for _ in range(2)]
            with worker_process(settings) as first:
                async with asyncio.timeout(30):
                    while await client.llen(crash_jobs.starts_key(key)) < 2:
                        await asyncio.sleep(0.02)
                first.send_signal(signal.SIGTERM)  # shutdown_grace is 1 s: both jobs are cancelled
                assert first.wait(timeout=15) == 0
            assert await client.llen(crash_jobs.finishes_key(key)) == 0
            # Handed back, not left to a lapsing lease: no lock held, both in the priority index again.
            queue_keys = jobs.backend.keys(crash_jobs.QUEUE)
            arq_ids = [queue_keys.arq_id(job_id) for job_id in job_ids]  # arq's ids carry the queue's hash tag
            assert await client.exists(*(f"arq:in-progress:{arq_id}" for arq_id in arq_ids)) == 0
            assert all([await client.zscore(queue_keys.index, arq_id) is not None for arq_id in arq_ids])
            with worker_process(settings):
                async with asyncio.timeout(20):
                    while await client.llen(crash_jobs.finishes_key(key)) < 2:
                        await asyncio.sleep(0.05)
            starts = [entry.decode() for entry in await client.lrange(crash_jobs.starts_key(key), 0, -1)]
            assert sorted(starts) == sorted(
                [f"{job_id}:1" for job_id in job_ids] + [f"{job_id}:2" for job_id in job_ids]
            )
        finally:
            await app.stop()


def test_a_worker_logs_json_lines_when_asked(tmp_path):
    with RedisServer() as server:
        settings = worker_settings(tmp_path, server.url)
        settings.write_text(settings.read_text() + '\n[testing.logging]\nformat = "json"\n')
        sheepfold = shutil.which("sheepfold", path=str(Path(sys.executable).parent))
        env = {**os.environ, **ADMIN_ENV, "SHEEPFOLD_ENV": "testing", "SHEEPFOLD_SETTINGS_FILE": str(settings)}
        with subprocess.Popen([sheepfold, "worker"], env=env, cwd=tmp_path, stderr=subprocess.PIPE) as process:
            first = json.loads(process.stderr.readline())  # the worker pool says which queues it serves
            process.terminate()
            rest = process.communicate(timeout=20)[1].decode().splitlines()
    assert first["message"] == "job workers started for queues: crash, default"
    assert {"instance", "request_id", "trace_id", "span_id"} <= set(first)
    assert all(isinstance(json.loads(line), dict) for line in rest if line.strip())
