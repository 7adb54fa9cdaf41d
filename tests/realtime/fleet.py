"""Settings for real ``sheepfold serve`` instances with realtime on Redis, and clients that talk to them."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import httpx

from tests.realtime.app_for_tests import ADMIN_TOKEN, SECRET
from tests.realtime.served_plugins import channel_plugin

SERVED_PLUGINS = Path(channel_plugin.__file__).parent
#: Installed plugins the instances run; every other one is disabled, so the proof needs nothing else.
NEEDED_PLUGINS = {"redis", "sessions", "realtime"}


def realtime_fleet_settings(
    redis_url: str, prefix: str, *, with_example: bool = False, cluster_nodes: list[str] | None = None
) -> str:
    """A settings file: sessions and pub/sub on Redis (memory as fallback), the test channel plugin.

    ``with_example`` also enables the example plugin (its realtime page and jobs, on memory);
    ``cluster_nodes`` (``host:port``) puts Redis on that Cluster instead of ``redis_url``.
    """
    nodes = ", ".join(f'"{node}"' for node in cluster_nodes or [])
    topology = f"cluster = {{ nodes = [{nodes}] }}" if cluster_nodes else f'url = "{redis_url}"'
    needed = NEEDED_PLUGINS | ({"example"} if with_example else set())
    disabled = sorted({entry.name for entry in metadata.entry_points(group="sheepfold.plugins")} - needed)
    return f"""
[testing.plugins]
disabled = [{", ".join(f'"{name}"' for name in disabled)}]
directory = "{SERVED_PLUGINS}"

[testing.redis]
{topology}
prefix = "{prefix}"

[testing.switch]
probe_interval = 0.2

[testing.sessions]
backend = "redis"
fallback = "memory"
secret = "{SECRET}"
cookie_secure = false

[testing.pubsub]
backend = "redis"
fallback = "memory"

[testing.admin]
token = "{ADMIN_TOKEN}"
"""


def address_of(url: str) -> str:
    return url.removeprefix("http://")


async def health(client: httpx.AsyncClient, url: str) -> dict:
    response = await client.get(url + "/health", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    return response.json()
