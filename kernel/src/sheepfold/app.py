"""``create_app``: the one way to build a sheepfold application."""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, cast, runtime_checkable

from blacksheep import Application, Request, Router
from blacksheep.middlewares import middleware_partial
from blacksheep.normalization import copy_special_attributes
from dynaconf import Dynaconf
from rodi import Container

from sheepfold.builtin import BUILTIN_PLUGINS
from sheepfold.cache.aside import CacheAside
from sheepfold.cache.port import Cache
from sheepfold.capabilities import bind_capabilities
from sheepfold.errors import PluginError, SettingsError
from sheepfold.http.admin import AdminGuard, admin_problems, unguarded_admin_routes
from sheepfold.identity import IdentityResolver
from sheepfold.metrics import PlatformMetrics
from sheepfold.multiprocess import shared_directory
from sheepfold.platform import Platform
from sheepfold.plugins import PluginHost
from sheepfold.providers import ProviderRegistry
from sheepfold.settings import load_settings, normalise_names, validate_settings
from sheepfold.types import ASGIApp


@runtime_checkable
class RouteScopedMiddleware(Protocol):
    """A middleware that only some routes need: it says which, by their own handler."""

    def applies_to(self, handler: Callable[..., Any]) -> bool: ...


@runtime_checkable
class HandlerWrapper(Protocol):
    """A middleware that wraps the rest of a route's chain itself, wherever it stands in the chain.

    BlackSheep calls each middleware through a wrapper of its own: two
    coroutine frames per request. One that says how to wrap the next handler
    costs one (the kernel's request observer, the database plugin's request
    context). It stays callable as a middleware, ``await m(request, handler)``.
    """

    def wrap(self, handler: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Any]]: ...


class PlatformApplication(Application):
    """A BlackSheep ``Application`` that knows its :class:`Platform`, leaves a
    :class:`RouteScopedMiddleware` out of the routes it does not apply to, and lets each
    :class:`HandlerWrapper` wrap its part of a chain itself."""

    platform: Platform

    def configure_middlewares(self) -> None:
        # BlackSheep wraps every route in every middleware (once, at start). The chains are built again:
        # without a middleware with nothing to do on most routes (the admin guard would still cost each of
        # their requests two coroutine frames), and with each HandlerWrapper wrapping the rest itself.
        own_handlers = [(route, route.handler) for route in self.router]  # normalised, not yet chained
        Application.configure_middlewares(self)  # type: ignore[no-untyped-call]  # BlackSheep: unannotated
        middlewares = list(self.middlewares)
        scoped = [middleware for middleware in middlewares if isinstance(middleware, RouteScopedMiddleware)]
        for route, handler in own_handlers:
            if route.handler is handler:
                continue  # BlackSheep chained nothing now (no middleware, or configured before)
            skipped = [middleware for middleware in scoped if not middleware.applies_to(handler)]
            route.handler = _chain([middleware for middleware in middlewares if middleware not in skipped], handler)


class WrappedPlatformApplication(PlatformApplication):
    """A :class:`PlatformApplication` served through the ASGI wrappers of ``sheepfold_wrap_asgi``.

    An app becomes one only when a plugin wraps it, so an app nobody wraps
    pays nothing per request. ``__call__`` stays a coroutine function: ASGI
    servers tell an ASGI 3 app by it.
    """

    asgi: ASGIApp

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.asgi(scope, receive, send)


def _wrap_asgi(app: PlatformApplication, host: PluginHost, platform: Platform) -> None:
    """Serve ``app`` through what ``sheepfold_wrap_asgi`` returns, the BlackSheep app innermost."""
    own: ASGIApp = types.MethodType(Application.__call__, app)
    outermost = host.fold("sheepfold_wrap_asgi", "asgi", own, platform=platform)
    if outermost is not own:
        app.__class__ = WrappedPlatformApplication
        cast("WrappedPlatformApplication", app).asgi = outermost


def _chain(middlewares: list[Any], handler: Callable[..., Any]) -> Any:
    """BlackSheep's chain of ``middlewares`` around ``handler``; each :class:`HandlerWrapper` wraps its own part."""
    chain = handler
    for middleware in reversed(middlewares):
        if not middleware:
            continue  # as BlackSheep skips one
        if isinstance(middleware, HandlerWrapper):
            wrapped = middleware.wrap(chain)
        else:
            wrapped = middleware_partial(middleware, chain)  # type: ignore[no-untyped-call]  # unannotated
        # As BlackSheep marks a chain: the handler, unless it has a root of its own (a normalised handler's
        # function, by which the OpenAPI docs know it).
        wrapped.root_fn = handler  # type: ignore[attr-defined]  # a function's attribute, as BlackSheep sets it
        copy_special_attributes(chain, wrapped)
        chain = wrapped
    return chain


def create_app(
    settings: Mapping[str, Any] | Dynaconf | None = None,
    plugins: Iterable[object] | None = None,
    load_entry_points: bool = True,
) -> PlatformApplication:
    """Build a sheepfold app: load plugins, validate settings, bind capabilities, add routes.

    ``settings`` (a mapping of sections, or a ``Dynaconf``) overrides what
    ``settings.toml`` and ``SHEEPFOLD_*`` environment variables say.
    ``plugins`` are registered after the built-in, installed and directory plugins; tests use them with
    ``load_entry_points=False`` to choose exactly what runs. Nothing touches
    the network here: adapters connect when the app starts.

    Raises one :class:`~sheepfold.errors.SettingsError` listing every
    problem at once: ``plugins.disabled``, the validators, ``admin.*``, the
    adapters named, what each plugin refuses while configuring itself or its
    routes (policies, queues). ``sheepfold check`` and ``sheepfold serve``
    both report exactly this. A plugin that fails for another reason, or
    registers a route on the admin surface (``/-/*``, ``/metrics``) without
    :func:`~sheepfold.http.admin.admin_only`, raises
    :class:`~sheepfold.errors.PluginError`.
    """
    loaded = load_settings(settings)
    problems: list[str] = []
    disabled = loaded.get("plugins.disabled") or []
    if not isinstance(disabled, list) or not all(isinstance(name, str) for name in disabled):
        problems.append(f"plugins.disabled: expected a list of plugin names, got {type(disabled).__name__}")
        disabled = []
    directory = loaded.get("plugins.directory") or None
    host = PluginHost()
    problems += host.load(
        builtins=BUILTIN_PLUGINS,
        entry_points=load_entry_points,
        directory=directory if isinstance(directory, str) else None,  # a wrong type is its validator's to report
        explicit=plugins or (),
        disabled=disabled,
    )
    app = PlatformApplication(router=Router(), services=Container())
    platform = Platform(app=app, settings=loaded, plugins=host, metrics=PlatformMetrics(shared_directory()))
    answers = host.call_each("sheepfold_settings_validators", platform=platform)
    validators = [validator for _plugin, plugin_validators in answers for validator in plugin_validators or ()]
    normalise_names(loaded, validators)
    try:
        validate_settings(loaded, validators)
    except SettingsError as error:
        problems += error.problems
    problems += admin_problems(loaded)
    app.platform = platform
    platform.provide(Platform, platform)
    platform.provide(IdentityResolver, platform.identities)
    platform.provide(AdminGuard, AdminGuard.from_settings(loaded))

    registry = ProviderRegistry()
    host.call_each("sheepfold_register_providers", register=registry.register, platform=platform)
    try:
        bind_capabilities(platform, registry)
    except SettingsError as error:
        problems += error.problems
    except Exception:
        if not problems:
            raise
        # An adapter refused settings the validators already reported: the report says why.
    cache = platform.find(Cache)
    if cache is not None:
        platform.provide(CacheAside, CacheAside(cache, metrics=platform.metrics))

    # Load order: every plugin configures the app (and provides its services) before any adds routes.
    host.call_collecting("sheepfold_configure_app", problems, app=app, platform=platform)
    host.call_collecting("sheepfold_register_routes", problems, router=app.router, platform=platform)
    if problems:
        raise SettingsError(problems)
    unguarded = unguarded_admin_routes(app.router)
    if unguarded:
        raise PluginError("; ".join(unguarded))
    _wrap_asgi(app, host, platform)

    async def start(_app: Application) -> None:
        await platform.start()

    async def stop(_app: Application) -> None:
        await platform.stop()

    app.on_start += start
    app.on_stop += stop
    return app
