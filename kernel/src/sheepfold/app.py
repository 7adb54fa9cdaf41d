"""``create_app``: the one way to build a sheepfold application."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from blacksheep import Application, Request, Router
from dynaconf import Dynaconf
from rodi import Container

from sheepfold.builtin import BUILTIN_PLUGINS
from sheepfold.cache.aside import CacheAside
from sheepfold.cache.port import Cache
from sheepfold.capabilities import bind_capabilities
from sheepfold.errors import SettingsError
from sheepfold.http.body_limit import BODILESS_METHODS, limited_receive
from sheepfold.identity import IdentityResolver
from sheepfold.metrics import PlatformMetrics
from sheepfold.platform import Platform
from sheepfold.plugins import PluginHost
from sheepfold.providers import ProviderRegistry
from sheepfold.settings import load_settings, validate_settings


class PlatformApplication(Application):
    """A BlackSheep ``Application`` that knows its :class:`Platform` and limits request bodies."""

    platform: Platform
    max_body_size: int

    def instantiate_request(self, scope: Any, receive: Any) -> Request:
        if scope["method"] not in BODILESS_METHODS:
            receive = limited_receive(scope, receive, self.max_body_size)
        return Application.instantiate_request(self, scope, receive)  # direct: super() costs per request


def create_app(
    settings: Mapping[str, Any] | Dynaconf | None = None,
    plugins: Iterable[object] | None = None,
    load_entry_points: bool = True,
) -> PlatformApplication:
    """Build a sheepfold app: load plugins, validate settings, bind capabilities, add routes.

    ``settings`` overrides what files and environment variables say (see
    :func:`~sheepfold.settings.load_settings`). ``plugins`` are registered
    after the built-in, installed and directory plugins; tests use them with
    ``load_entry_points=False`` to choose exactly what runs. Nothing touches
    the network here: adapters connect when the app starts.

    Raises :class:`~sheepfold.errors.SettingsError` (every bad key at once) or
    :class:`~sheepfold.errors.PluginError` (naming the plugin and hook).
    """
    loaded = load_settings(settings)
    disabled = loaded.get("plugins.disabled") or []
    if not isinstance(disabled, list):
        raise SettingsError([f"plugins.disabled: expected a list of plugin names, got {type(disabled).__name__}"])
    host = PluginHost()
    host.load(
        builtins=BUILTIN_PLUGINS,
        entry_points=load_entry_points,
        directory=loaded.get("plugins.directory") or None,
        explicit=plugins or (),
        disabled=disabled,
    )
    app = PlatformApplication(router=Router(), services=Container())
    platform = Platform(app=app, settings=loaded, plugins=host, metrics=PlatformMetrics())
    validators = host.call_each("sheepfold_settings_validators", platform=platform)
    validate_settings(loaded, [v for _plugin, vs in validators for v in vs or ()])
    app.max_body_size = loaded.get("http.max_body_size")
    app.platform = platform
    platform.provide(Platform, platform)
    platform.provide(IdentityResolver, platform.identities)

    registry = ProviderRegistry()
    host.call_each("sheepfold_register_providers", register=registry.register, platform=platform)
    bind_capabilities(platform, registry)
    platform.provide(CacheAside, CacheAside(platform.require(Cache)))

    # Load order: every plugin configures the app (and provides its services) before any adds routes.
    host.call_each("sheepfold_configure_app", app=app, platform=platform)
    host.call_each("sheepfold_register_routes", router=app.router, platform=platform)

    async def start(_app: Application) -> None:
        await platform.start()

    async def stop(_app: Application) -> None:
        await platform.stop()

    app.on_start += start
    app.on_stop += stop
    return app
