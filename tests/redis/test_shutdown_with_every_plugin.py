"""Every task sheepfold starts is owned by ``platform.tasks``, and stopping leaves nothing running or dropped.

The app runs every capability on a Redis this test starts (and kills), jobs on
arq with an embedded worker, realtime with a WebSocket client connected and
subscribed, and the database on PostgreSQL; uvicorn serves it in the test's
event loop and is stopped the way a signal stops it. It is stopped while all
is well, during a Redis outage, and right after Redis returned (while the
switches and the pub/sub reader recover). Each time, once the server has
stopped, no task but the test's own is left, and neither "coroutine ... was
never awaited" nor "Task was destroyed but it is pending" was reported.
While it runs, every task whose coroutine is sheepfold's code is one of
``platform.tasks`` (arq's own job tasks aside, each awaited by a job task
that is owned).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn

from sheepfold import PlatformApplication, State, create_app
from sheepfold.jobs import Jobs
from sheepfold_database import plugin as database_plugin
from sheepfold_jobs import WorkerPool
from sheepfold_jobs import plugin as jobs_plugin
from sheepfold_ratelimit import plugin as ratelimit_plugin
from sheepfold_realtime import RealtimeHub
from sheepfold_realtime import plugin as realtime_plugin
from sheepfold_redis import plugin as redis_plugin
from sheepfold_sessions import plugin as sessions_plugin
from tests.realtime.app_for_tests import SECRET, login
from tests.realtime.served import Client
from tests.realtime.served_plugins import channel_plugin
from tests.support.job_functions import DEFINITIONS, GATES, RUNS, fresh_key
from tests.support.ports import spare_port
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

REDIS_CAPABILITIES = ("state", "cache", "ratelimit", "sessions", "pubsub")
DROPPED = ("was never awaited", "Task was destroyed but it is pending", "exception was never retrieved")
#: Where sheepfold's code lives: the kernel and every plugin's src/ in this repository.
SHEEPFOLD_SOURCES = [
    str(path.resolve()) for path in Path(__file__).resolve().parents[2].glob("**/src") if ".venv" not in path.parts
]
job_functions = SimpleNamespace(name="job_functions_for_tests", sheepfold_jobs=lambda: DEFINITIONS)


def every_plugin_settings(redis_url: str, postgres_url: str) -> dict[str, Any]:
    settings: dict[str, Any] = {
        capability: {"backend": "redis", "fallback": "memory"} for capability in REDIS_CAPABILITIES
    }
    settings["sessions"].update(secret=SECRET, cookie_secure=False)
    settings["jobs"] = {
        "backend": "arq",
        "fallback": "spool",
        "worker": {"embedded": True, "idle_poll": 0.2, "crash_margin": 1.0, "shutdown_grace": 1.0},
        "metrics_interval": 0.1,
    }
    settings["redis"] = {
        "url": redis_url,
        "prefix": fresh_prefix(),
        "command_timeout": 1.0,
        "connect_timeout": 1.0,
        "metrics_interval": 0.1,
    }
    settings["switch"] = {"probe_interval": 0.1}
    settings["database"] = {"url": postgres_url, "pool_size": 2, "max_overflow": 1, "monitor_interval": 0.1}
    settings["realtime"] = {}
    return settings


def build(redis_url: str, postgres_url: str) -> PlatformApplication:
    plugins = [
        redis_plugin,
        sessions_plugin,
        ratelimit_plugin,
        jobs_plugin,
        job_functions,
        realtime_plugin,
        channel_plugin,
        database_plugin,
    ]
    return create_app(every_plugin_settings(redis_url, postgres_url), plugins=plugins, load_entry_points=False)


@contextlib.asynccontextmanager
async def serving(app: PlatformApplication) -> AsyncIterator[tuple[str, Callable[[], Awaitable[None]]]]:
    """``(address, stop)``: the app served by uvicorn; ``stop()`` stops it as SIGTERM would, and waits."""
    port = spare_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())

    async def stop() -> None:
        server.should_exit = True
        async with asyncio.timeout(30):
            await task

    async with asyncio.timeout(15):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}", stop
    finally:
        if not task.done():
            await stop()


async def wait_until(condition: Callable[[], bool], what: str, within: float = 15.0) -> None:
    try:
        async with asyncio.timeout(within):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {within} s") from None


def unowned_tasks(app: PlatformApplication) -> list[str]:
    """Running tasks whose coroutine is sheepfold's code but which ``platform.tasks`` does not own."""
    pool = app.platform.require(WorkerPool)
    arq_job_tasks = {task for worker in pool.workers.values() for task in worker.job_tasks.values()}
    unowned = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        source = code.co_filename if code is not None else ""
        if source.startswith(tuple(SHEEPFOLD_SOURCES)) and task not in app.platform.tasks and task not in arq_job_tasks:
            unowned.append(f"{task.get_name()} ({code.co_qualname})")
    return unowned


def tasks_left() -> list[str]:
    return sorted(task.get_name() for task in asyncio.all_tasks() if task is not asyncio.current_task())


async def when_redis_is_up(app: PlatformApplication, redis: RedisServer) -> None:
    """Stop with everything on Redis."""


async def during_an_outage(app: PlatformApplication, redis: RedisServer) -> None:
    """Stop while Redis is down: switches on their fallbacks, the pub/sub reader reconnecting."""
    redis.kill()
    platform = app.platform
    await platform.require(State).get("anything")  # fails on Redis: the switch moves to memory
    await platform.require(Jobs).enqueue("record", (fresh_key(),))  # spooled on the fallback
    hub = RealtimeHub.of(platform)
    await wait_until(lambda: not hub.linked, "the pub/sub link loss")
    assert not platform.capabilities["state"].on_backend
    assert not platform.capabilities["jobs"].on_backend


async def right_after_redis_returns(app: PlatformApplication, redis: RedisServer) -> None:
    """Stop at once when Redis answers again: probes, replays and re-subscriptions under way."""
    await during_an_outage(app, redis)
    redis.start()


@pytest.mark.parametrize("moment", [when_redis_is_up, during_an_outage, right_after_redis_returns])
async def test_stop_leaves_no_task_and_drops_no_coroutine(
    moment: Callable[[PlatformApplication, RedisServer], Awaitable[None]],
    postgres_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gc.collect()  # what earlier tests left behind is reported now, not in this test
    with RedisServer() as redis, warnings.catch_warnings(record=True) as reported:
        warnings.simplefilter("always")
        caplog.set_level(logging.ERROR, logger="asyncio")
        app = build(redis.url, postgres_url)
        async with serving(app) as (address, stop):
            cookie = await login(address, "alice")
            async with httpx.AsyncClient(base_url=f"http://{address}", headers={"Cookie": cookie}) as http:
                assert (await http.get("/health")).status_code == 200
            key = fresh_key()
            await app.platform.require(Jobs).enqueue("record", (key,))
            async with Client.connect(address, additional_headers={"Cookie": cookie}) as client:
                await client.subscribe("user:alice")
                await moment(app, redis)
                assert len(app.platform.tasks) > 0, "nothing ran in the background: the test proves nothing"
                await stop()  # uvicorn closes the socket, then the app's shut-down runs
                assert await client.closed() is not None
        assert app.platform.tasks.names == []
        left = tasks_left()
        assert left == [], f"tasks still running after stop: {left}"
        gc.collect()
        await asyncio.sleep(0)  # destroyed-task reports are made through the loop
    messages = [str(warning.message) for warning in reported] + [record.getMessage() for record in caplog.records]
    dropped = [message for message in messages if any(marker in message for marker in DROPPED)]
    assert dropped == [], dropped


async def test_every_task_sheepfold_starts_is_owned_by_the_platform(postgres_url: str) -> None:
    with RedisServer() as redis:
        app = build(redis.url, postgres_url)
        async with serving(app) as (address, _stop):
            cookie = await login(address, "alice")
            key = fresh_key()
            await app.platform.require(Jobs).enqueue("wait_for_gate", (key,))
            async with Client.connect(address, additional_headers={"Cookie": cookie}) as client:
                await client.subscribe("user:alice")
                await wait_until(lambda: bool(RUNS[key]), "the job's start")
                assert unowned_tasks(app) == []
                names = app.platform.tasks.names
                assert any(name.startswith("realtime-socket-") for name in names), names
                assert any(name.startswith("job-") for name in names), names
                GATES[key].set()
