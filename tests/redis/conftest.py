from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sheepfold import PlatformApplication, create_app
from sheepfold_redis import plugin as redis_plugin
from tests.support.ports import spare_port
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import redis_cluster, redis_cluster_nodes  # noqa: F401 - a fixture of the cluster tests


@pytest.fixture
def unused_port() -> int:
    """A loopback TCP port nothing listens on."""
    return spare_port()


def redis_backed(url: str, **overrides: Any) -> dict[str, Any]:
    """Settings with state and cache on Redis at ``url`` (memory as fallback) and a fresh key prefix.

    Timeouts are generous so that a busy machine never passes for an outage; tests about slow
    peers set them explicitly. A killed server fails calls at once whatever the timeouts.
    """
    settings: dict[str, Any] = {
        "state": {"backend": "redis", "fallback": "memory"},
        "cache": {"backend": "redis", "fallback": "memory"},
        "redis": {"url": url, "prefix": fresh_prefix(), "command_timeout": 1.0, "connect_timeout": 1.0},
        "switch": {"probe_interval": 0.1, "call_timeout": 2.0},
    }
    for section, values in overrides.items():
        settings.setdefault(section, {}).update(values)
    return settings


@contextlib.asynccontextmanager
async def running_app(settings: dict[str, Any], *plugins: object) -> AsyncIterator[PlatformApplication]:
    """A started app with only the kernel's plugins, plugin-redis and ``plugins``; stopped on exit."""
    app = create_app(settings, plugins=[redis_plugin, *plugins], load_entry_points=False)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
