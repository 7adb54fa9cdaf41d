"""The hooks a sheepfold plugin may implement.

Each hook's docstring is its contract: when the kernel calls it, what it
returns, whether the call stops at the first non-None result (firstresult)
or collects every plugin's result, and whether an implementation may return
an awaitable. ``docs/hooks.md`` documents the same hooks for plugin authors;
a test keeps the two in step.

pluggy calls implementations synchronously. Only hooks documented as "may
return an awaitable" accept ``async def`` implementations; the kernel awaits
those one plugin at a time, in registration order (built-in plugins first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click
    from blacksheep import Application, Request, Router
    from dynaconf import Validator

    from sheepfold.health import ComponentHealth
    from sheepfold.jobs.definition import JobDefinition, JobFunction
    from sheepfold.platform import Platform
    from sheepfold.ratelimit.policy import RateLimitPolicy
    from sheepfold.types import MaybeAwaitable, RegisterProvider

PROJECT = "sheepfold"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def sheepfold_settings_validators() -> list[Validator]:
    """Return the dynaconf ``Validator`` objects for this plugin's settings section.

    Called once per app, after plugins are loaded and before any adapter is
    built. Collecting: every plugin's validators are checked together and all
    failures are reported at once, each naming its key; start-up stops on any.
    Synchronous. Give defaults through ``Validator(..., default=...)`` so a
    plugin works with an empty settings file.
    """


@hookspec
def sheepfold_register_providers(register: RegisterProvider) -> None:
    """Offer adapters for capabilities by calling ``register(capability, name, factory)``.

    Called once per app, after settings are validated. ``factory(platform)``
    builds the adapter without doing I/O; the kernel calls it only for the
    names that settings choose (``[capability] backend``/``fallback``), and
    lists the registered names when a setting names an unknown one.
    Collecting; return value ignored. Synchronous.
    """


@hookspec
def sheepfold_configure_app(app: Application, platform: Platform) -> None:
    """Add middleware, services and event handlers to the BlackSheep ``app``.

    Called once per app after the capabilities are bound and before routes are
    registered. Use ``app.middlewares.append(fn, MiddlewareCategory...)`` and
    ``platform.provide(SomeType, instance)`` (which also registers the
    instance in ``app.services`` for handlers). Collecting; return value
    ignored. Synchronous. Raise ``SettingsError([...])`` for settings that
    the validators cannot judge alone: its problems are reported with every
    other bad setting.
    """


@hookspec
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    """Add HTTP and WebSocket routes to the app's own ``router``.

    Called once per app, after ``sheepfold_configure_app``. Use
    ``router.add_get(path, handler)`` and friends; never the module-level
    ``blacksheep.get`` decorators, whose router is shared by every app.
    Collecting; return value ignored. Synchronous.
    """


@hookspec
def sheepfold_register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``sheepfold`` command-line interface.

    Called once when the CLI starts, with the root ``click.Group``. Collecting;
    return value ignored. Synchronous.
    """


@hookspec
def sheepfold_jobs() -> list[JobDefinition | JobFunction]:
    """Offer job functions that the job queue may run (``jobs.enqueue(name, ...)``).

    Called once per app, the first time the job-queue capability is built
    (before the app starts). Return :class:`~sheepfold.jobs.JobDefinition`
    objects (name, queue, timeout, max tries, retry policy), or bare
    ``async def fn(ctx, *args, **kwargs)`` functions for the defaults.
    Collecting: every plugin's functions are registered; two with one name
    stop start-up. Synchronous.
    """


@hookspec
def sheepfold_migrations() -> list[str | Path]:
    """Offer folders of Alembic migration scripts (``sheepfold-database``).

    Called by ``sheepfold db upgrade|downgrade|current`` and when an
    in-memory database starts, once per command or start. Return the folders
    (paths) holding this plugin's revision files; a plugin's first revision
    has ``down_revision = None`` and ``branch_labels = ("<plugin>",)``, so
    each plugin is a branch that migrates on its own. Collecting: every
    plugin's folders join one Alembic script directory. Synchronous.
    """


@hookspec
def sheepfold_startup(app: Application, platform: Platform) -> MaybeAwaitable[None]:
    """Open connections and start background tasks.

    Called once when the app starts (BlackSheep ``on_start``), after the
    capabilities' adapters have started. Called one plugin at a time in
    registration order (built-ins first); may return an awaitable, which the
    kernel awaits before calling the next plugin. An exception stops start-up
    with a :class:`~sheepfold.errors.PluginError` naming the plugin and hook.
    """


@hookspec
def sheepfold_shutdown(app: Application, platform: Platform) -> MaybeAwaitable[None]:
    """Close connections and stop background tasks.

    Called once when the app stops (BlackSheep ``on_stop``), in the reverse of
    start-up order, before the capabilities' adapters close. May return an
    awaitable. An exception is logged and the other plugins still shut down.
    """


@hookspec
def sheepfold_health(platform: Platform) -> MaybeAwaitable[ComponentHealth | None]:
    """Report the health of one component this plugin owns.

    Called on every request to ``/health`` and ``/health/ready``. Return a
    :class:`~sheepfold.health.ComponentHealth`, an awaitable of one, or None
    for nothing to report. Collecting, and isolated: an implementation that
    raises or times out is reported as that component's error while every
    other plugin's part is still served.
    """


@hookspec(firstresult=True)
def sheepfold_ratelimit_key(request: Request, policy: RateLimitPolicy) -> str | None:
    """Supply the key a request is rate-limited under (``sheepfold-ratelimit``).

    Called for every request that a policy limits, before it is counted.
    Return a string (an API key's id, a tenant) to count the request under
    it, or None to leave the choice to later plugins and then the default
    (the authenticated user's ``sub``, else the client address).
    firstresult: the first non-None result wins. Synchronous, and on the
    request path: keep it cheap.
    """


@hookspec(firstresult=True)
def sheepfold_ratelimit_exempt(request: Request, policy: RateLimitPolicy) -> bool | None:
    """Exempt a request from rate limiting (``sheepfold-ratelimit``).

    Called for every request that a policy limits, before its key is chosen.
    Return True to let it through uncounted (an internal health checker, an
    allow-listed partner), or None to leave the decision to others.
    firstresult: the first non-None result wins (False stops the chain
    without exempting). Synchronous, and on the request path: keep it cheap.
    """


@hookspec(firstresult=True)
def sheepfold_request_user(request: Request) -> str | None:
    """Name the user a request is made by (response caching keys and tags by it).

    Called for every request to a route cached with
    :class:`~sheepfold.cache.ResponseCache`, before the cache is read, after
    session and authentication middlewares ran. Return the user's stable id
    (``sheepfold-sessions`` answers with the session's user), or None to leave
    it to later plugins, then to BlackSheep's authenticated identity (its
    ``sub`` claim). A request with no user but a ``Cookie`` or
    ``Authorization`` header is cached per those headers, never shared.
    firstresult: the first non-None result wins. Synchronous, and on the
    request path: keep it cheap and free of I/O.
    """


@hookspec
def sheepfold_realtime_channels() -> list[object]:
    """Declare WebSocket channels and who may join them (``sheepfold-realtime``).

    Called once per app, when ``sheepfold-realtime`` configures the app.
    Return ``sheepfold_realtime.ChannelRule(name, authorize)`` objects: a rule
    named ``orders`` covers the channel ``orders`` and every channel
    ``orders:<anything>``; ``authorize(identity, channel) -> bool`` is called
    at every subscription to such a channel with the socket's identity (user
    and roles from its session) and must return True for the subscription to
    be granted (synchronous, no I/O: it runs on the socket's path).
    Collecting: every plugin's rules are used; two rules with one name, or a
    rule for a built-in name (``user``, ``admin``, ``platform``), stop
    start-up with a :class:`~sheepfold.errors.PluginError`. Synchronous.
    """
