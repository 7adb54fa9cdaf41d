"""The fallback switch: one circuit breaker per capability, shared by every plugin.

A capability (state, cache, ...) has a configured backend and a fallback. The
switch sends calls to the backend while it answers; the first failure (or the
configured number) opens the circuit, the failing call is served by the
fallback, and so is every call after it, without touching the backend again.
A probe pings the backend every ``probe_interval`` seconds and closes the
circuit as soon as it answers. Every switch is logged and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sheepfold.errors import BackendUnavailable
from sheepfold.metrics import PlatformMetrics

logger = logging.getLogger("sheepfold.fallback")

#: Exceptions that mean "the backend is down", as opposed to a bad call.
BACKEND_FAILURES: tuple[type[BaseException], ...] = (BackendUnavailable, OSError, TimeoutError)

SwitchListener = Callable[["FallbackSwitch", bool], Awaitable[None] | None]
"""Called with ``(switch, on_backend)`` after every switch; may be async."""


class FallbackSwitch:
    """Routes the calls of one capability to its backend or its fallback adapter.

    Port methods are reached as attributes (``await switch.get(key)``), so the
    switch stands in for the port wherever the port is expected (it is what
    handlers receive through dependency injection). ``call_timeout`` bounds
    every backend call, so a slow backend counts as down, unless the backend
    adapter says ``bounds_its_calls = True`` (its client enforces timeouts of
    its own). With backend and fallback the same adapter, calls go straight
    to it: nothing to switch, nothing to pay.
    """

    def __init__(
        self,
        capability: str,
        *,
        backend_name: str,
        backend: Any,
        fallback_name: str,
        fallback: Any,
        metrics: PlatformMetrics,
        probe_interval: float = 0.5,
        failure_threshold: int = 1,
        call_timeout: float | None = None,
    ) -> None:
        self.capability = capability
        self.backend_name = backend_name
        self.backend = backend
        self.fallback_name = fallback_name
        self.fallback = fallback
        self.probe_interval = probe_interval
        self.failure_threshold = failure_threshold
        self.call_timeout = call_timeout
        self.switch_count = 0
        self.last_error: str | None = None
        self._metrics = metrics
        self._consecutive_failures = 0
        self._open = False
        self._probe: asyncio.Task[None] | None = None
        self._listeners: list[SwitchListener] = []
        self._routed: set[str] = set()
        self._publish_active()

    @property
    def has_fallback(self) -> bool:
        """False when backend and fallback are the same adapter (nothing to switch to)."""
        return self.fallback is not self.backend

    @property
    def on_backend(self) -> bool:
        return not self._open

    @property
    def active_name(self) -> str:
        return self.backend_name if not self._open else self.fallback_name

    @property
    def active(self) -> Any:
        """The adapter serving calls now."""
        return self.backend if not self._open else self.fallback

    def add_listener(self, listener: SwitchListener) -> None:
        """Call ``listener(switch, on_backend)`` after every switch (a plugin's recovery work)."""
        self._listeners.append(listener)

    def set_adapters(self, backend: Any, fallback: Any) -> None:
        """Replace both adapters (a test wrapping them, say); calls made from now on reach the new ones."""
        self.backend, self.fallback = backend, fallback
        for method in self._routed:
            self.__dict__.pop(method, None)
        self._routed.clear()

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        # Called once per port method: the route is then cached as an instance attribute,
        # so later calls find it without __getattr__ (the switch sits on every request's path).
        if method.startswith("_"):
            raise AttributeError(method)
        route = self._route(method)
        self.__dict__[method] = route
        self._routed.add(method)
        return route

    def _route(self, method: str) -> Callable[..., Awaitable[Any]]:
        backend_method = getattr(self.backend, method, None)
        if not callable(backend_method):
            raise AttributeError(f"{self.capability} port has no method {method!r}")
        if not self.has_fallback:
            return backend_method
        fallback_method = getattr(self.fallback, method)
        # An adapter whose every call is bounded by its client's own timeouts (Redis sockets)
        # is not timed again here: asyncio.timeout costs a timer per call.
        timeout = None if getattr(self.backend, "bounds_its_calls", False) else self.call_timeout

        async def routed(*args: Any, **kwargs: Any) -> Any:
            if self._open:
                return await fallback_method(*args, **kwargs)
            try:
                if timeout is None:
                    result = await backend_method(*args, **kwargs)
                else:
                    async with asyncio.timeout(timeout):
                        result = await backend_method(*args, **kwargs)
            except BACKEND_FAILURES as error:
                self._metrics.backend_failures.labels(self.capability).inc()
                self._record_failure(error)
                return await fallback_method(*args, **kwargs)
            if self._consecutive_failures:
                self._consecutive_failures = 0
            return result

        routed.__name__ = method
        return routed

    async def start(self) -> None:
        """Start both adapters; a backend that fails to start or answer opens the circuit."""
        await self.fallback.start()
        if not self.has_fallback:
            return
        try:
            await self.backend.start()
            await self._ping_backend()
        except BACKEND_FAILURES as error:
            self._consecutive_failures = self.failure_threshold
            self._record_failure(error)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        if self.has_fallback:
            await self.backend.close()
        await self.fallback.close()

    def _record_failure(self, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        self._consecutive_failures += 1
        if self._open or self._consecutive_failures < self.failure_threshold:
            return
        self._open = True
        logger.warning(
            "%s: backend %r failed (%s); serving from fallback %r",
            self.capability,
            self.backend_name,
            self.last_error,
            self.fallback_name,
        )
        self._switched()
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(
                self._probe_until_recovered(), name=f"sheepfold-probe-{self.capability}"
            )

    async def _ping_backend(self) -> None:
        async with asyncio.timeout(self.call_timeout or self.probe_interval * 4):
            await self.backend.ping()

    async def _probe_until_recovered(self) -> None:
        while self._open:
            await asyncio.sleep(self.probe_interval)
            try:
                await self._ping_backend()
            except BACKEND_FAILURES as error:
                self.last_error = f"{type(error).__name__}: {error}"
                continue
            self._open = False
            self._consecutive_failures = 0
            logger.warning("%s: backend %r answers again; switched back", self.capability, self.backend_name)
            self._switched()

    def _switched(self) -> None:
        self.switch_count += 1
        self._metrics.fallback_switches.labels(self.capability, self.active_name).inc()
        self._publish_active()
        for listener in self._listeners:
            outcome = listener(self, self.on_backend)
            if inspect.isawaitable(outcome):
                asyncio.get_running_loop().create_task(_log_failure(outcome, self.capability))

    def _publish_active(self) -> None:
        gauge = self._metrics.active_backend
        gauge.labels(self.capability, self.backend_name).set(0)
        gauge.labels(self.capability, self.fallback_name).set(0)
        gauge.labels(self.capability, self.active_name).set(1)

    def describe(self) -> dict[str, Any]:
        """The switch's state as ``/health`` reports it."""
        return {
            "configured": self.backend_name,
            "fallback": self.fallback_name,
            "active": self.active_name,
            "switches": self.switch_count,
            **({"last_error": self.last_error} if self._open and self.last_error else {}),
        }


async def _log_failure(outcome: Awaitable[None], capability: str) -> None:
    try:
        await outcome
    except Exception:
        logger.exception("%s: a switch listener failed", capability)
