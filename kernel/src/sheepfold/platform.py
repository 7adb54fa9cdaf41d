"""One running platform: its settings, plugins, capabilities and services."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sheepfold.fallback import FallbackSwitch
from sheepfold.fleet import Fleet
from sheepfold.identity import Identity, IdentityResolver, Permissions
from sheepfold.loop_lag import LoopLag
from sheepfold.metrics import PlatformMetrics
from sheepfold.namespace import Namespace
from sheepfold.plugins import PluginHost
from sheepfold.propagation import Propagation
from sheepfold.tasks import BackgroundTasks

if TYPE_CHECKING:
    from blacksheep import Application, Request
    from dynaconf import Dynaconf

    # TypeForm (PEP 747), not type[T]: a service is often a Protocol or an abstract class, which
    # type checkers refuse where type[T] is expected.
    from typing_extensions import TypeForm

T = TypeVar("T")
#: Allocations (less deallocations) of container objects between two collections of the youngest generation.
YOUNG_GENERATION = 10_000

logger = logging.getLogger("sheepfold")


class Platform:
    """Everything one app owns, handed to every hook.

    ``capabilities`` maps a capability name (``state``, ``cache``, ...) to its
    :class:`FallbackSwitch`, which stands in for the port. Services that
    plugins share (a Redis client, an engine) are offered with :meth:`provide`
    and found with :meth:`require`; the same instances reach route handlers
    through BlackSheep's dependency injection. ``tasks`` owns every
    background task the platform or a plugin starts; :meth:`stop` cancels and
    awaits them. :meth:`identify` says who a request is made by and
    :meth:`allowed` what that identity may do. ``fleet`` is this instance's
    heartbeat and the list of live instances (``await platform.fleet.instances()``).
    ``propagation`` carries a trace into work handed to another process
    (:class:`~sheepfold.propagation.Propagation`). ``plugins`` is the app's
    :class:`~sheepfold.plugins.PluginHost`, where a plugin may register hook
    implementations its settings turn on.
    """

    def __init__(self, *, app: Application, settings: Dynaconf, plugins: PluginHost, metrics: PlatformMetrics) -> None:
        self.app = app
        self.settings = settings
        self.plugins = plugins
        self.metrics = metrics
        self.instance_id: str = settings.get("instance.id") or (
            f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        )
        self.capabilities: dict[str, FallbackSwitch[Any]] = {}
        self.tasks = BackgroundTasks()
        #: How late this instance's event loop runs (measured by a task of ``tasks`` from :meth:`start`).
        self.loop_lag = LoopLag()
        self._services: dict[object, object] = {}
        self.identities = IdentityResolver(self)
        self.permissions = Permissions(self)
        self._last_closers: list[Callable[[], Awaitable[None]]] = []
        #: This instance's heartbeat, and every live instance of the fleet (:class:`~sheepfold.fleet.Fleet`).
        self.fleet = Fleet(self)
        #: Hands the current trace over with a job or a message, and continues it where the work runs.
        self.propagation = Propagation(self)

    def provide(self, service_type: TypeForm[T], instance: T) -> None:
        """Offer ``instance`` as the app's ``service_type`` (a class or Protocol) to plugins and route handlers.

        :class:`TypeError` when ``service_type`` is not a class: handlers receive services by class.
        """
        if not isinstance(service_type, type):
            raise TypeError(f"a service is provided under a class, not {service_type!r}")
        self._services[service_type] = instance
        self.app.services.register(service_type, instance=instance)

    def require(self, service_type: TypeForm[T]) -> T:
        """The instance offered for ``service_type``; :class:`LookupError` naming it when none was."""
        try:
            # provide() stores each instance under its own type, so what is found is a T.
            return cast("T", self._services[service_type])
        except KeyError:
            name = getattr(service_type, "__name__", service_type)
            raise LookupError(f"no service {name} was provided by any plugin") from None

    def find(self, service_type: TypeForm[T]) -> T | None:
        """The instance offered for ``service_type``, or None."""
        return cast("T | None", self._services.get(service_type))

    async def identify(self, request: Request) -> Identity:
        """Who ``request`` (or a WebSocket) is made by: resolved by the plugins once, then remembered on it.

        Anonymous (:data:`~sheepfold.identity.ANONYMOUS`) when no plugin
        recognises the caller. May read a session record (one backend call)
        the first time it is asked for a request whose session was not loaded.
        """
        return await self.identities.identify(request)

    def allowed(self, identity: Identity, action: str, resource: str | None = None) -> bool:
        """True when ``identity`` may perform ``action`` (on ``resource``); see ``sheepfold_permission_allowed``."""
        return self.permissions.allowed(identity, action, resource)

    def namespace(self, plugin: str) -> Namespace:
        """The keys and tags of ``plugin`` (its name) in the State and Cache that all plugins share.

        ``platform.namespace("example").key("visits")`` is ``"example:visits"``;
        ``.tag("greetings")`` is ``"example:greetings"``. ValueError for a name
        with characters other than lower-case letters, digits, ``_``, ``.``
        and ``-``. Touches nothing; cheap enough to call per request, but a
        plugin usually keeps one.
        """
        return Namespace(plugin)

    def close_last(self, close: Callable[[], Awaitable[None]]) -> None:
        """Await ``close()`` at the very end of :meth:`stop`, after every task ended and every capability closed.

        For a service that adapters, workers and background tasks all use (a
        shared connection): closed in a ``sheepfold_shutdown`` hook, it would
        be gone while other plugins' shut-down and tasks still need it.
        Closers run in reverse order of registration; one that fails is
        logged and the others still run.
        """
        self._last_closers.append(close)

    async def start(self) -> None:
        """Measure loop lag, start every capability's adapters and the fleet's heartbeat, then call
        ``sheepfold_startup`` plugin by plugin."""
        self.tasks.spawn(self.loop_lag.run(on_measured=self.metrics.loop_lag.set), name="sheepfold-loop-lag")
        self.metrics.start(self.tasks, self.settings.get("metrics.flush_interval"))
        await asyncio.gather(*(switch.start() for switch in self.capabilities.values()))
        self.fleet.start()
        await self.plugins.await_each("sheepfold_startup", app=self.app, platform=self)
        # What start-up made (modules, settings, routes, ORM mappers, pools) lives as long as the process:
        # out of the collector's reach, a full collection walks only what requests made since. And a young
        # generation larger than CPython's 700 objects: requests in flight hold that many between them, so
        # every collection found them alive and the next came at once (a database session route spent
        # ~50,000 instructions a request collecting; benchmarks/README.md). Cycles are still collected.
        gc.freeze()
        gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])
        logger.info("sheepfold instance %s started", self.instance_id)

    async def stop(self) -> None:
        """Stop in the order that lets each step still use what the next one closes.

        1. ``sheepfold_shutdown``, plugin by plugin in reverse order: plugins
           end their own work gracefully (workers finish jobs, sockets are
           closed with 1001, monitors stop); then the fleet's heartbeat
           stops, telling the fleet this instance left.
        2. Every background task still running is cancelled and awaited;
           those still running after ``tasks.stop_timeout`` seconds are
           abandoned and logged.
        3. Every capability's adapters close (nothing runs that could call them).
        4. The closers registered with :meth:`close_last` run (shared connections).
        5. The metrics are shared a last time (with ``--workers N``), so this process's counts stay in the sum.
        6. What :meth:`start` froze out of the garbage collector's reach is in reach again.
        """
        await self.plugins.await_each("sheepfold_shutdown", reverse=True, isolate=True, app=self.app, platform=self)
        await self.fleet.stop()
        await self.tasks.stop(self.settings.get("tasks.stop_timeout"))
        for switch in self.capabilities.values():
            try:
                await switch.close()
            except Exception:
                logger.exception("%s: adapters failed to close", switch.capability)
        while self._last_closers:
            close = self._last_closers.pop()
            try:
                await close()
            except Exception:
                logger.exception("closing %r failed", close)
        await self.metrics.stop()
        gc.unfreeze()  # what start-up made may be garbage now (an app stopped in a process that goes on)
