"""Apps with sessions, realtime and the test channel plugin, served for real WebSocket clients."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from sheepfold import PlatformApplication, create_app
from sheepfold_realtime import plugin as realtime_plugin
from sheepfold_sessions import plugin as sessions_plugin
from tests.realtime.served import serving
from tests.realtime.served_plugins import channel_plugin

SECRET = "realtime-tests-secret-0123456789abcdef-0123"
ADMIN_TOKEN = "realtime-tests-admin-token-0123456789abcdef"


def realtime_settings(**sections: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "sessions": {"secret": SECRET, "cookie_secure": False},
        "admin": {"token": ADMIN_TOKEN},
        "realtime": {},
    }
    for section, values in sections.items():
        settings.setdefault(section, {}).update(values)
    return settings


def build(settings: dict[str, Any], *plugins: object) -> PlatformApplication:
    return create_app(
        settings, plugins=[sessions_plugin, realtime_plugin, channel_plugin, *plugins], load_entry_points=False
    )


@contextlib.asynccontextmanager
async def served(settings: dict[str, Any] | None = None, *plugins: object) -> AsyncIterator[tuple[str, Any]]:
    """``(address, app)`` of an app served on a spare port."""
    app = build(settings or realtime_settings(), *plugins)
    async with serving(app) as address:
        yield address, app


async def login(address: str, user: str, roles: list[str] | None = None) -> str:
    """Sign ``user`` in through the test route; the ``Cookie`` header that carries the session."""
    async with httpx.AsyncClient(base_url=f"http://{address}") as client:
        response = await client.post("/t/login", json={"user": user, "roles": roles or []})
        response.raise_for_status()
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


async def admin_publish(address: str, channel: str, event: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://{address}") as client:
        return await client.post(
            "/realtime/publish",
            json={"channel": channel, "event": event},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
