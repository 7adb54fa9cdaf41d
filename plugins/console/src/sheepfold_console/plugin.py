"""The console's hooks: settings, the console sign-in as an identity allowed the admin surface, routes, live feed."""

from __future__ import annotations

from typing import Any

from blacksheep import Request, Router
from dynaconf import Validator

from sheepfold import Identity, Platform, hookimpl
from sheepfold.identity import ADMIN
from sheepfold_console import settings as console_settings
from sheepfold_console.api import add_api_routes
from sheepfold_console.feed import ConsoleFeed, channel_rule
from sheepfold_console.figures import snapshot
from sheepfold_console.pages import add_page_routes
from sheepfold_console.settings import ConsoleSettings
from sheepfold_console.sign_in import SIGNED_IN, ConsolePass


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return console_settings.validators()


@hookimpl
def sheepfold_configure_app(platform: Platform) -> None:
    settings = ConsoleSettings.from_settings(platform.settings)
    platform.provide(ConsoleSettings, settings)
    token = platform.settings.get("admin.token") or ""
    platform.provide(ConsolePass, ConsolePass(token, ttl=settings.sign_in_ttl, secure=settings.cookie_secure))


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    settings = platform.require(ConsoleSettings)
    live = _live_feed(platform, settings)
    add_page_routes(router, platform, settings, platform.require(ConsolePass))
    add_api_routes(router, platform, settings, live)


def _live_feed(platform: Platform, settings: ConsoleSettings) -> dict[str, Any]:
    """How the page stays live: the WebSocket path when sheepfold-realtime is enabled (and the
    :class:`ConsoleFeed` is provided), else None and the page polls; its refresh interval."""
    live: dict[str, Any] = {"websocket": None, "interval": settings.refresh_interval}
    try:
        from sheepfold_realtime import RealtimeHub
    except ImportError:
        return live
    hub = platform.find(RealtimeHub)
    if hub is None:
        return live

    async def build() -> dict[str, Any]:
        return await snapshot(platform, failed_limit=settings.failed_jobs, live=live)

    feed = ConsoleFeed(platform, hub, build, interval=settings.refresh_interval)
    platform.provide(ConsoleFeed, feed)
    live["websocket"] = hub.settings.path
    return live


@hookimpl
def sheepfold_realtime_channels(platform: Platform) -> list[object]:
    return [channel_rule(platform)]


@hookimpl(tryfirst=True)
def sheepfold_identity_from_request(request: Request, platform: Platform) -> Identity | None:
    # Asked only on admin paths and WebSocket handshakes (ConsolePass.identity_of), before the other plugins:
    # a console cookie there is a proof of the admin token, whatever session the browser also holds.
    console_pass = platform.find(ConsolePass)
    return None if console_pass is None else console_pass.identity_of(request)


@hookimpl
def sheepfold_permission_allowed(identity: Identity, action: str) -> bool | None:
    # A console sign-in opens the admin surface (what the admin token opens) and grants nothing else.
    if action == ADMIN and SIGNED_IN in identity.attributes:
        return True
    return None
