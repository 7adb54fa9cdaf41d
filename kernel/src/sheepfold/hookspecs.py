"""The hooks a sheepfold plugin may implement.

Each hook's docstring is its contract: when the kernel calls it, what it
returns, whether the call stops at the first non-None result (firstresult)
or collects every plugin's result, and whether an implementation may return
an awaitable. ``docs/hooks.md`` documents the same hooks for plugin authors;
a test keeps the two in step.

pluggy calls implementations synchronously. Only hooks documented as "may
return an awaitable" accept ``async def`` implementations; the kernel awaits
those one plugin at a time, in registration order (built-in plugins first).

Every hook called for an app can receive ``platform`` (the app's
:class:`~sheepfold.Platform`): an implementation names only the arguments it
uses, and pluggy passes just those, so adding ``platform`` to an
implementation's signature is always allowed. The one exception is
``sheepfold_register_commands``, which runs before any app exists.

Call order: ``tryfirst`` implementations, then plugins in registration order
(built-ins, entry points, a plugins directory, explicit plugins; a plugin's
``sheepfold_after`` moves it after the plugins it names), then ``trylast``.
Every plugin's ``sheepfold_configure_app`` runs before any plugin's
``sheepfold_register_routes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextlib import AbstractContextManager
    from pathlib import Path

    import click
    from blacksheep import Application, Request, Router
    from dynaconf import Validator

    from sheepfold.health import ComponentHealth
    from sheepfold.identity import Identity
    from sheepfold.jobs.definition import JobDefinition, JobFunction
    from sheepfold.platform import Platform
    from sheepfold.ratelimit.policy import RateLimitPolicy
    from sheepfold.statistics import Statistics
    from sheepfold.types import ASGIApp, MaybeAwaitable, RegisterProvider

PROJECT = "sheepfold"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def sheepfold_settings_validators(platform: Platform) -> list[Validator]:
    """Return the dynaconf ``Validator`` objects for this plugin's settings section.

    Called once per app, after plugins are loaded and before any adapter is
    built; ``platform.settings`` are not validated yet. Collecting: every
    plugin's validators are checked together and all failures are reported
    at once, each naming its key; start-up stops on any.
    Synchronous. Give defaults through ``Validator(..., default=...)`` so a
    plugin works with an empty settings file.
    """


@hookspec
def sheepfold_register_providers(register: RegisterProvider, platform: Platform) -> None:
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

    Called once per app after the capabilities are bound, for every plugin
    before any plugin's ``sheepfold_register_routes``: a service provided
    here is found by every plugin from ``sheepfold_register_routes`` on
    (within this hook, only from plugins called earlier: declare
    ``sheepfold_after`` to be called after a plugin whose service you need).
    Use ``app.middlewares.append(fn, MiddlewareCategory...)`` (a middleware
    only some routes need may say which with ``applies_to(handler)``, see
    :class:`~sheepfold.app.RouteScopedMiddleware`) and
    ``platform.provide(SomeType, instance)`` (which also registers the
    instance in ``app.services`` for handlers). Collecting; return value
    ignored. Synchronous. Raise ``SettingsError([...])`` for settings that
    the validators cannot judge alone: its problems are reported with every
    other bad setting.
    """


@hookspec
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    """Add HTTP and WebSocket routes to the app's own ``router``.

    Called once per app, after every plugin's ``sheepfold_configure_app``
    (so every provided service can be found). Use
    ``router.add_get(path, handler)`` and friends; never the module-level
    ``blacksheep.get`` decorators, whose router is shared by every app.
    Collecting; return value ignored. Synchronous.
    """


@hookspec
def sheepfold_register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``sheepfold`` command-line interface.

    Called once when the CLI starts, with the root ``click.Group``; no app
    exists yet, so this hook alone gets no ``platform`` (a command that needs
    one builds it with :func:`~sheepfold.create_app`). Collecting; return
    value ignored. Synchronous.
    """


@hookspec
def sheepfold_jobs(platform: Platform) -> list[JobDefinition | JobFunction]:
    """Offer job functions that the job queue may run (``jobs.enqueue(name, ...)``).

    Called once per app, the first time the job-queue capability is built
    (before the app starts); read queue names or retry settings from
    ``platform.settings``. Return :class:`~sheepfold.jobs.JobDefinition`
    objects (name, queue, timeout, max tries, retry policy), or bare
    ``async def fn(ctx, *args, **kwargs)`` functions for the defaults.
    Collecting: every plugin's functions are registered; two with one name
    stop start-up. Synchronous.
    """


@hookspec
def sheepfold_migrations(platform: Platform) -> list[str | Path]:
    """Offer folders of Alembic migration scripts (``sheepfold-database``).

    Called by ``sheepfold db upgrade|downgrade|current|history|check`` and when an
    in-memory database starts, once per command or start. Return the folders
    (paths) holding this plugin's revision files; a plugin's first revision
    has ``down_revision = None`` and ``branch_labels = ("<plugin>",)``, so
    each plugin is a branch that migrates on its own. Collecting: every
    plugin's folders join one Alembic script directory. Synchronous.
    """


@hookspec
def sheepfold_model_metadata(platform: Platform) -> list[Any]:
    """Offer the SQLAlchemy ``MetaData`` of this plugin's models (``sheepfold-database``).

    Called by ``sheepfold db check``, once per run. Return the ``MetaData``
    objects (``Base.metadata`` of your declarative base) whose tables your
    plugin's migrations (``sheepfold_migrations``) create: the check fails when
    the database they migrated differs from these models. Tables no plugin
    offers a model of are not compared. Collecting. Synchronous.
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


@hookspec
def sheepfold_statistics(platform: Platform) -> MaybeAwaitable[Statistics | None]:
    """Report this plugin's live figures: one section of the operator console.

    Called whenever the console or its JSON API (``/-/console/api/...``)
    reads the instance's figures, at most every few seconds and never on the
    request path. Return a :class:`~sheepfold.statistics.Statistics` (counters
    that only grow, gauges, short tables), an awaitable of one, or None.
    Collecting, and isolated: an implementation that raises or times out is
    reported as an error under its plugin's name while every other section is
    still served. Read what the plugin already tallies; do not add work to
    the request path to feed this hook.
    """


@hookspec(firstresult=True)
def sheepfold_ratelimit_key(
    request: Request, policy: RateLimitPolicy, identity: Identity, platform: Platform
) -> str | None:
    """Supply the key a request is rate-limited under (``sheepfold-ratelimit``).

    Called for every request that a policy limits, before it is counted,
    with the request's resolved ``identity``. Return a string (an API key's
    id, a tenant) to count the request under it, or None to leave the choice
    to later plugins and then the default (``user:<subject>`` for a signed-in
    identity, else ``ip:<client address>``).
    firstresult: the first non-None result wins. Synchronous, and on the
    request path: keep it cheap.
    """


@hookspec(firstresult=True)
def sheepfold_ratelimit_exempt(request: Request, policy: RateLimitPolicy, platform: Platform) -> bool | None:
    """Exempt a request from rate limiting (``sheepfold-ratelimit``).

    Called for every request that a policy limits, before its key is chosen.
    Return True to let it through uncounted (an internal health checker, an
    allow-listed partner), or None to leave the decision to others.
    firstresult: the first non-None result wins (False stops the chain
    without exempting). Synchronous, and on the request path: keep it cheap.
    """


@hookspec
def sheepfold_identity_from_request(request: Request, platform: Platform) -> MaybeAwaitable[Identity | None]:
    """Say who ``request`` (an HTTP request or a WebSocket handshake) is made by.

    Called at most once per request, the first time anything asks for its
    identity (``platform.identify(request)``: the rate limiter, the response
    cache, a handler's ``identity: Identity`` parameter, the realtime
    handshake), after the session middleware ran for HTTP requests (a
    WebSocket's session is not loaded: load it yourself). Return an
    :class:`~sheepfold.Identity`, an awaitable of one, or None when this
    plugin does not recognise the caller. Plugins are asked one at a time in
    call order; the first non-None answer wins and later plugins are not
    asked; nobody answering means :data:`~sheepfold.identity.ANONYMOUS`.
    ``sheepfold-sessions`` answers from the session; an API-token plugin or a
    trusted proxy's header may answer first (``tryfirst``). May return an
    awaitable; keep it cheap, it is on the request path.
    """


@hookspec(firstresult=True)
def sheepfold_permission_allowed(
    identity: Identity, action: str, resource: str | None, platform: Platform
) -> bool | None:
    """Decide whether ``identity`` may perform ``action`` (on ``resource``, or on nothing in particular).

    Called by every ``platform.allowed(identity, action, resource)``.
    ``action`` is a dotted name its plugin documents (``admin``,
    ``realtime.publish``, ``example.guestbook.delete``). Return True to allow,
    False to refuse, None to leave the decision to later plugins.
    firstresult, in call order: the first True or False decides. The kernel
    answers last (``trylast``): True for an identity holding the
    ``permissions.admin_role`` role (default ``admin``), else None, and no
    answer at all refuses. Synchronous and free of I/O (it runs on request
    and socket paths): put what a decision needs into the identity's roles
    or attributes when it is resolved.
    """


@hookspec
def sheepfold_realtime_channels(platform: Platform) -> list[object]:
    """Declare WebSocket channels and who may join them (``sheepfold-realtime``).

    Called once per app, when ``sheepfold-realtime`` configures the app.
    Return ``sheepfold_realtime.ChannelRule(name, authorize)`` objects: a rule
    named ``orders`` covers the channel ``orders`` and every channel
    ``orders:<anything>``; ``authorize(identity, channel) -> bool`` is called
    at every subscription to such a channel with the socket's
    :class:`~sheepfold.Identity` (resolved once at the handshake) and must
    return True for the subscription to be granted (synchronous, no I/O: it
    runs on the socket's path; ``platform.allowed(identity, ...)`` qualifies).
    Collecting: every plugin's rules are used; two rules with one name, or a
    rule for a built-in name (``user``, ``admin``, ``platform``), stop
    start-up with a :class:`~sheepfold.errors.PluginError`. Synchronous.
    """


@hookspec
def sheepfold_wrap_asgi(asgi: ASGIApp, platform: Platform) -> ASGIApp | None:
    """Wrap the app's whole ASGI callable in an ASGI middleware (tracing, a proxy's protocol).

    Called once per app, after every plugin's ``sheepfold_register_routes``,
    one plugin at a time in call order: each receives what the plugins before
    it returned (the BlackSheep app itself first) and returns a wrapper of it,
    or None to leave it as it is. The outermost wrapper sees every HTTP,
    WebSocket and lifespan event before BlackSheep; with no wrapper the app is
    served as it is, at no cost. Synchronous.
    """


@hookspec
def sheepfold_propagation_send(carrier: dict[str, str], platform: Platform) -> None:
    """Write what continues the current trace elsewhere into ``carrier`` (``platform.propagation``).

    Called by :meth:`~sheepfold.propagation.Propagation.carrier` whenever a
    plugin hands work to another process or instance: ``sheepfold-jobs`` when
    it enqueues (the carrier is stored in the job), ``sheepfold-realtime``
    when it publishes to other instances (the carrier travels in the pub/sub
    envelope). Add string entries (a telemetry plugin writes W3C
    ``traceparent``/``tracestate``); keep names short, they travel with every
    message. Collecting; return value ignored. Synchronous, and on the
    request path: keep it cheap. Not called at all when no plugin implements it.
    """


@hookspec(firstresult=True)
def sheepfold_propagation_receive(
    carrier: Mapping[str, str], operation: str, attributes: dict[str, str | int], linked: bool, platform: Platform
) -> AbstractContextManager[object] | None:
    """Continue, for work that starts here, the trace that ``carrier`` brought from elsewhere.

    Called by :meth:`~sheepfold.propagation.Propagation.continued` when
    carried work starts: a worker runs a try of a job (``operation``
    ``"job <name>"``), an instance delivers an event another instance
    published (``"realtime deliver"``). ``carrier`` is what
    ``sheepfold_propagation_send`` wrote where the work was handed over (empty
    when nothing was); ``attributes`` describe the work; ``linked`` asks for a
    new trace that only links to the carried one (a job's retry) rather than
    a child of it. Return a context manager the work runs inside (entered and
    left on the work's own task), or None to leave it to later plugins.
    firstresult: the first non-None result is used. Synchronous.
    """


@hookspec(firstresult=True)
def sheepfold_span(
    operation: str, attributes: dict[str, str | int], platform: Platform
) -> AbstractContextManager[object] | None:
    """Trace one call to a backend that no instrumentation sees (``platform.propagation.span``).

    Called by :meth:`~sheepfold.propagation.Propagation.span` around each such
    call, on its path: ``sheepfold-redis`` around every command of its shared
    (multiplexed) connection, which redis-py's instrumentation cannot see.
    ``operation`` names the call (the Redis command, ``PUBLISH``);
    ``attributes`` describe it without its values (``db.system``). Return a
    context manager the call runs inside (a client span, made current), or
    None to leave it to later plugins. firstresult. Synchronous, and on the
    request path: keep it cheap. Not called when no plugin implements a
    tracing hook.
    """
