"""Apps with the arq job backend on a Redis, the test job functions, and the plugins they need."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from sheepfold import PlatformApplication, create_app
from sheepfold_jobs import plugin as jobs_plugin
from sheepfold_redis import plugin as redis_plugin
from tests.support.job_functions import DEFINITIONS, SERIAL_QUEUE
from tests.support.redis_adapters import fresh_prefix

test_functions = SimpleNamespace(name="job_functions_for_tests", sheepfold_jobs=lambda: DEFINITIONS)


def arq_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """Jobs on arq at ``url`` (spool fallback), an embedded worker, a fresh key prefix, quick probes."""
    settings: dict[str, Any] = {
        "jobs": {
            "backend": "arq",
            "fallback": "spool",
            "queues": {SERIAL_QUEUE: {"concurrency": 1}},
            "worker": {"embedded": True, "idle_poll": 0.2, "crash_margin": 1.0, "shutdown_grace": 1.0},
            "metrics_interval": 0.1,
        },
        "redis": {"url": url, "prefix": fresh_prefix()},
        "switch": {"probe_interval": 0.1},
    }
    for section, values in overrides.items():
        settings.setdefault(section, {}).update(values)
    return settings


@contextlib.asynccontextmanager
async def running_app(settings: dict[str, Any], *plugins: object) -> AsyncIterator[PlatformApplication]:
    """A started app with the kernel, plugin-redis, plugin-jobs, the test job functions and ``plugins``."""
    app = create_app(settings, plugins=[redis_plugin, jobs_plugin, test_functions, *plugins], load_entry_points=False)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
