"""One running platform: its settings, plugins, capabilities and services."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from typing import TYPE_CHECKING, TypeVar, cast

from sheepfold.fallback import FallbackSwitch
from sheepfold.metrics import PlatformMetrics
from sheepfold.plugins import PluginHost
from sheepfold.tasks import BackgroundTasks

if TYPE_CHECKING:
    from blacksheep import Application
    from dynaconf import Dynaconf

    # TypeForm (PEP 747), not type[T]: a service is often a Protocol or an abstract class, which
    # type checkers refuse where type[T] is expected.
    from typing_extensions import TypeForm

T = TypeVar("T")
logger = logging.getLogger("sheepfold")


class Platform:
    """Everything one app owns, handed to every hook.

    ``capabilities`` maps a capability name (``state``, ``cache``, ...) to its
    :class:`FallbackSwitch`, which stands in for the port. Services that
    plugins share (a Redis client, an engine) are offered with :meth:`provide`
    and found with :meth:`require`; the same instances reach route handlers
    through BlackSheep's dependency injection. ``tasks`` owns every
    background task the platform or a plugin starts; :meth:`stop` cancels and
    awaits them.
    """

    def __init__(self, *, app: Application, settings: Dynaconf, plugins: PluginHost, metrics: PlatformMetrics) -> None:
        self.app = app
        self.settings = settings
        self.plugins = plugins
        self.metrics = metrics
        self.instance_id: str = settings.get("instance.id") or (
            f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        )
        self.capabilities: dict[str, FallbackSwitch] = {}
        self.tasks = BackgroundTasks()
        self._services: dict[object, object] = {}

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

    async def start(self) -> None:
        """Start every capability's adapters, then call ``sheepfold_startup`` plugin by plugin."""
        await asyncio.gather(*(switch.start() for switch in self.capabilities.values()))
        await self.plugins.await_each("sheepfold_startup", app=self.app, platform=self)
        logger.info("sheepfold instance %s started", self.instance_id)

    async def stop(self) -> None:
        """Call ``sheepfold_shutdown`` in reverse order, end every background task, close every capability.

        Tasks still running after ``tasks.stop_timeout`` seconds are abandoned and logged.
        """
        await self.plugins.await_each("sheepfold_shutdown", reverse=True, isolate=True, app=self.app, platform=self)
        await self.tasks.stop(self.settings.get("tasks.stop_timeout"))
        for switch in self.capabilities.values():
            try:
                await switch.close()
            except Exception:
                logger.exception("%s: adapters failed to close", switch.capability)
