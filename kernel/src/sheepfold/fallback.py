"""The fallback switch: one per capability, the port handlers receive, moving through three phases.

``backend``: calls go to the configured backend. A call that fails for an
outage is served by the fallback; a connection error (or ``failure_threshold``
of them in a row) opens the circuit at once, a timeout only once a probe
confirms it and never while this instance's own event loop is late (overload
is not an outage). Switches whose backends share an ``outage_domain`` (one
Redis) share that decision (``sheepfold.outages``): they move together.
``fallback``: every call goes to the fallback; a probe pings the backend every
``probe_interval`` seconds. ``recovering``: the backend answers again; the
capability's recovery steps run (replaying what the fallback took meanwhile)
while calls are still served by the fallback (or by what the feature named
with :meth:`FallbackSwitch.serve_while_recovering`), and traffic returns to
the backend in the same event-loop turn as the last step ends. A step that
fails, steps that take longer than ``recovery_timeout`` seconds, or an outage
confirmed meanwhile send the switch back to ``fallback``; the steps run again
after the next successful probe.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast

from sheepfold.errors import BackendUnavailable
from sheepfold.loop_lag import LoopLag
from sheepfold.metrics import PlatformMetrics
from sheepfold.outages import SharedOutage
from sheepfold.port_methods import PortMethod, port_methods
from sheepfold.recovery import Recovery, RecoveryResult, RecoveryStep
from sheepfold.tasks import BackgroundTasks

logger = logging.getLogger("sheepfold.fallback")

P = TypeVar("P")
X = TypeVar("X")
R = TypeVar("R")

#: Set in the caller's context when a routed call's backend failed and its fallback answered it
#: while the phase was still ``backend`` (the outage not yet confirmed); read by :meth:`FallbackSwitch.answer_of`.
_FELL_BACK: ContextVar[bool] = ContextVar("sheepfold_fell_back", default=False)

#: Exceptions that mean "the backend is down", as opposed to a bad call.
BACKEND_FAILURES: tuple[type[BaseException], ...] = (BackendUnavailable, OSError, TimeoutError)

#: A timed-out call is discounted when the loop was late within this many seconds before it failed.
LATE_HORIZON = 1.0

#: Probes a confirmation sends at most while each is excused by this instance's late loop.
CONFIRM_ATTEMPTS = 3

#: Times a call that timed out while this instance's loop was late is sent again before the fallback serves it.
LATE_RETRIES = 3


class Phase(StrEnum):
    """Where a capability's calls go: ``backend``, ``fallback``, or ``fallback`` while ``recovering``."""

    BACKEND = "backend"
    FALLBACK = "fallback"
    RECOVERING = "recovering"


SwitchListener = Callable[["FallbackSwitch[Any]", Phase], Awaitable[None] | None]
"""Called with ``(switch, phase)`` after every change of phase; may be async (run as an owned task)."""


class FallbackSwitch(Generic[P]):
    """Routes the calls of one capability to its backend or its fallback adapter; it *is* the port.

    Every method ``port`` declares is an attribute of the switch, built once
    (the switch sits on every request's path: one attribute lookup and one
    ``if``): async methods stay async, synchronous ones (registrations such as
    ``add_link_listener``) are called on both adapters, methods marked
    :func:`~sheepfold.port_methods.standing_interest` always reach the
    backend. Nothing else is: an undeclared method raises AttributeError.
    :attr:`port` is the switch typed as ``P``. With backend and fallback the
    same adapter, the attributes are the adapter's own methods.

    ``call_timeout`` bounds every backend call unless the backend adapter
    says ``bounds_its_calls = True``; ``recovery_timeout`` bounds one
    recovery (all its steps). ``shared_outage`` is what the switches of one
    backend server share (a ``SharedOutage`` the platform makes); without
    it the switch decides alone. Background work (probe, recovery, async
    listeners) runs in ``tasks``.
    """

    def __init__(
        self,
        capability: str,
        port: type[P],
        *,
        backend_name: str,
        backend: Any,
        fallback_name: str,
        fallback: Any,
        metrics: PlatformMetrics,
        tasks: BackgroundTasks,
        loop_lag: LoopLag | None = None,
        probe_interval: float = 0.5,
        failure_threshold: int = 1,
        call_timeout: float | None = None,
        recovery_timeout: float = 10.0,
        shared_outage: SharedOutage | None = None,
    ) -> None:
        self.capability = capability
        self.port_type = port
        self.backend_name = backend_name
        self.fallback_name = fallback_name
        self.probe_interval = probe_interval
        self.failure_threshold = failure_threshold
        self.call_timeout = call_timeout
        self.recovery_timeout = recovery_timeout
        self.switch_count = 0
        self.last_error: str | None = None
        self.last_switch_at: float | None = None
        self.last_recovery: RecoveryResult | None = None
        self._backend = backend
        self._fallback = fallback
        self._metrics = metrics
        self._tasks = tasks
        self._loop_lag = loop_lag
        self._phase = Phase.BACKEND
        self._consecutive_failures = 0
        self._shared = shared_outage or SharedOutage()
        self._shared.join(self)
        self._outage: asyncio.Task[None] | None = None
        # The running recovery's deadline (None outside one): an outage confirmed meanwhile expires it at once.
        self._recovery_deadline: asyncio.Timeout | None = None
        self._listeners: list[SwitchListener] = []
        self._recovery_steps: list[tuple[str, RecoveryStep]] = []
        self._while_recovering: Callable[[Recovery[P]], P] | None = None
        # What serves calls in this recovery (built from _while_recovering); None: the fallback.
        self._recovering_adapter: Any = None
        self._methods = port_methods(port)
        self._install_routes()
        self._publish_phase()

    # -- what plugins may rely on ---------------------------------------------------------------

    @property
    def port(self) -> P:
        """The switch as the port it stands for (what ``platform.require(Port)`` returns)."""
        return cast(P, self)

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def has_fallback(self) -> bool:
        """False when backend and fallback are the same adapter (nothing to switch to)."""
        return self._fallback is not self._backend

    @property
    def on_backend(self) -> bool:
        return self._phase is Phase.BACKEND

    @property
    def active_name(self) -> str:
        """The name of the adapter serving calls now (the fallback's while recovering)."""
        return self.backend_name if self._phase is Phase.BACKEND else self.fallback_name

    def add_listener(self, listener: SwitchListener) -> None:
        """Call ``listener(switch, phase)`` after every change of phase."""
        self._listeners.append(listener)

    def add_recovery_step(self, name: str, step: RecoveryStep) -> None:
        """Run ``await step(recovery)`` in every recovery, in the order added, before traffic returns.

        Traffic returns in the same event-loop turn as the last step returns:
        a step that loops until nothing is left to replay leaves nothing behind.
        """
        self._recovery_steps.append((name, step))

    def serve_while_recovering(self, make: Callable[[Recovery[P]], P]) -> None:
        """While recovering, serve calls with ``make(recovery)`` (built once per recovery) instead of the fallback.

        For a capability whose fallback alone would answer wrongly in the
        window: sessions read through to the backend there, so that a user
        whose session only the backend holds is not signed out while the
        replay runs. What it returns must implement the port; its calls are
        not timed or counted by the switch. Only one per switch: the last wins.
        """
        self._while_recovering = make

    def wrap_fallback(self, wrap: Callable[[P], P]) -> None:
        """Replace the fallback by ``wrap(fallback)`` (a feature's outage policy); no-op without a fallback."""
        if self.has_fallback:
            self._fallback = wrap(cast(P, self._fallback))
            self._install_routes()

    def adapter_as(self, kind: Callable[..., X], role: str = "backend") -> X | None:
        """The ``role`` (``backend`` or ``fallback``) adapter if it is a ``kind``, else None.

        How a plugin reaches an adapter's extras (its own adapter class, or a
        Protocol of an extra such as an outage journal) without touching the switch.
        """
        # A class or a runtime-checkable Protocol; typed as a callable so that a Protocol type-checks.
        adapter = self._backend if role == "backend" else self._fallback
        return cast(X, adapter) if isinstance(adapter, cast(type, kind)) else None

    async def answer_of(self, call: Awaitable[R]) -> tuple[R, bool]:
        """Await ``call`` (a call of this switch's port): its result and whether the backend answered it.

        The phase alone cannot tell: a backend call that fails before an outage
        is confirmed (a failure threshold above 1, a timeout waiting for its
        probe) is answered by the fallback while the phase is still ``backend``.
        """
        token = _FELL_BACK.set(False)
        before = self._phase
        try:
            result = await call
            return result, before is Phase.BACKEND and self._phase is Phase.BACKEND and not _FELL_BACK.get()
        finally:
            _FELL_BACK.reset(token)

    def describe(self) -> dict[str, Any]:
        """The switch's state as ``/health`` reports it."""
        return {
            "configured": self.backend_name,
            "fallback": self.fallback_name,
            "active": self.active_name,
            "phase": self._phase.value,
            "switches": self.switch_count,
            "last_switch_at": self.last_switch_at,
            "last_recovery": self.last_recovery.to_json() if self.last_recovery else None,
            **({"last_error": self.last_error} if self._phase is not Phase.BACKEND and self.last_error else {}),
        }

    # -- the kernel's side ---------------------------------------------------------------------

    @property
    def backend(self) -> Any:
        """The backend adapter (kernel and tests only: plugins use :meth:`adapter_as`)."""
        return self._backend

    @property
    def fallback(self) -> Any:
        """The fallback adapter (kernel and tests only)."""
        return self._fallback

    def set_adapters(self, backend: Any, fallback: Any) -> None:
        """Replace both adapters (a test wrapping them, say); calls made from now on reach the new ones."""
        self._backend, self._fallback = backend, fallback
        self._install_routes()

    async def start(self) -> None:
        """Start both adapters; a backend that fails to start or answer puts the switch on its fallback."""
        await self._fallback.start()
        if not self.has_fallback:
            return
        try:
            await self._backend.start()
            await self._ping_backend()
        except BACKEND_FAILURES as error:
            self._note_error(error)
            self._open()

    async def close(self) -> None:
        if self._outage is not None:
            self._outage.cancel()
            await asyncio.gather(self._outage, return_exceptions=True)
            self._outage = None
        if self.has_fallback:
            await self._backend.close()
        await self._fallback.close()

    # -- routing ---------------------------------------------------------------------------------

    def _install_routes(self) -> None:
        for method in self._methods:
            self.__dict__[method.name] = self._route(method)

    def _route(self, method: PortMethod) -> Callable[..., Any]:
        backend_method = getattr(self._backend, method.name)
        if not self.has_fallback or method.standing:
            return cast(Callable[..., Any], backend_method)
        fallback_method = getattr(self._fallback, method.name)
        if not method.is_async:
            return _on_both(backend_method, fallback_method)
        # An adapter whose every call is bounded by its client's own timeouts (Redis sockets)
        # is not timed again here: asyncio.timeout costs a timer per call.
        timeout = None if getattr(self._backend, "bounds_its_calls", False) else self.call_timeout
        switch = self
        name = method.name

        async def routed(*args: Any, **kwargs: Any) -> Any:
            if switch._phase is not Phase.BACKEND:
                serving = switch._recovering_adapter
                if serving is None:
                    return await fallback_method(*args, **kwargs)
                return await getattr(serving, name)(*args, **kwargs)
            try:
                if timeout is None:
                    result = await backend_method(*args, **kwargs)
                else:
                    async with asyncio.timeout(timeout):
                        result = await backend_method(*args, **kwargs)
            except BACKEND_FAILURES as error:
                retries = LATE_RETRIES
                while retries and switch._late(error) and switch._phase is Phase.BACKEND:
                    # This instance was late, not the backend: the reply may have been on time. Again, while a
                    # probe (which accounts for lag itself) finds out; once it confirms an outage, no more waits.
                    retries -= 1
                    switch._confirm_soon()
                    try:
                        return await backend_method(*args, **kwargs)
                    except BACKEND_FAILURES as again:
                        error = again
                switch._failed(error)
                _FELL_BACK.set(True)
                return await fallback_method(*args, **kwargs)
            if switch._consecutive_failures:
                switch._consecutive_failures = 0
            return result

        routed.__name__ = name
        return routed

    # -- deciding "down" ----------------------------------------------------------------------------

    def _late(self, error: BaseException, since: float | None = None) -> bool:
        """A timeout while this instance's event loop was late (since ``since``) says nothing about the backend.

        A routed call is not timed (nothing is added to the hot path), so it
        looks back :data:`LATE_HORIZON`; a probe knows when it was sent.
        """
        return (
            _timed_out(error)
            and self._loop_lag is not None
            and self._loop_lag.late_since(time.monotonic() - LATE_HORIZON if since is None else since)
        )

    def _failed(self, error: BaseException) -> None:
        self._metrics.backend_failures.labels(self.capability).inc()
        self._note_error(error)
        if self._phase is not Phase.BACKEND:
            return
        if _timed_out(error):
            self._confirm_soon()
            return
        self._consecutive_failures += 1
        if self._consecutive_failures >= self.failure_threshold:
            self._shared.confirmed(error)

    def _confirm_soon(self) -> None:
        """One slow reply is not an outage: a probe confirms it first (one for every switch of the backend)."""
        if self._phase is Phase.BACKEND and not self._shared.confirming:
            self._shared.confirming = True
            self._tasks.spawn(self._confirm_timeout(), name=f"sheepfold-confirm-{self.capability}")

    async def _confirm_timeout(self) -> None:
        try:
            for _attempt in range(CONFIRM_ATTEMPTS):
                sent = time.monotonic()
                try:
                    await self._ping_backend()
                except BACKEND_FAILURES as error:
                    # Only a loop late while this probe waited excuses it (not lag of a second ago), and then
                    # it asks again at once: a frozen backend must not wait for the next call to time out.
                    if self._late(error, since=sent):
                        continue
                    self._shared.confirmed(error)
                return
        finally:
            self._shared.confirming = False

    def outage_confirmed(self, error: BaseException) -> None:
        """The backend is down (confirmed by this switch or one sharing its backend): to the fallback."""
        if self._phase is Phase.FALLBACK:
            return
        self._note_error(error)
        self._open()

    def _note_error(self, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__

    def _open(self) -> None:
        if self._phase is Phase.FALLBACK:
            return
        deadline = self._recovery_deadline
        if deadline is not None and not deadline.expired():
            deadline.reschedule(asyncio.get_running_loop().time())  # the steps stop; the recovery has failed
        self._enter(Phase.FALLBACK)
        if self._outage is None or self._outage.done():
            self._outage = self._tasks.spawn(self._until_recovered(), name=f"sheepfold-probe-{self.capability}")

    async def _ping_backend(self) -> None:
        async with asyncio.timeout(self.call_timeout or self.probe_interval * 4):
            await self._backend.ping()

    # -- recovering ----------------------------------------------------------------------------------

    async def _until_recovered(self) -> None:
        while self._phase is not Phase.BACKEND:
            await asyncio.sleep(self.probe_interval)
            try:
                await self._ping_backend()
            except BACKEND_FAILURES as error:
                self._note_error(error)
                continue
            recovery: Recovery[P] = Recovery(
                self.capability, self.backend_name, self._backend, self._fallback, self.adapter_as
            )
            if self._while_recovering is not None:
                self._recovering_adapter = self._while_recovering(recovery)
            self._enter(Phase.RECOVERING)
            await self._recover(recovery)

    async def _recover(self, recovery: Recovery[P]) -> None:
        started = time.monotonic()
        outcome = "ok"
        try:
            async with asyncio.timeout(self.recovery_timeout) as deadline:
                self._recovery_deadline = deadline
                for _name, step in self._recovery_steps:
                    await step(recovery)
        except Exception as error:
            if deadline.expired():
                outcome = f"failed: took longer than recovery_timeout ({self.recovery_timeout} s)"
            else:
                self._note_error(error)
                outcome = f"failed: {self.last_error}"
        finally:
            self._recovery_deadline = None
        if self._phase is not Phase.RECOVERING:
            outcome = f"failed: the backend failed meanwhile ({self.last_error})"
        if outcome != "ok":
            logger.warning(
                "%s: recovery failed (%s); back on fallback %r", self.capability, outcome, self.fallback_name
            )
        duration = time.monotonic() - started
        self.last_recovery = RecoveryResult(outcome, duration, time.time())
        self._metrics.recovery_duration.labels(self.capability, "ok" if outcome == "ok" else "failed").observe(duration)
        if self._phase is Phase.RECOVERING:  # else an outage confirmed meanwhile has moved it to the fallback
            # No await between the last step's return and this: nothing written to the fallback is left behind.
            self._enter(Phase.BACKEND if outcome == "ok" else Phase.FALLBACK)

    # -- telling ----------------------------------------------------------------------------------

    def _enter(self, phase: Phase) -> None:
        previous, self._phase = self._phase, phase
        if phase is not Phase.RECOVERING:
            self._recovering_adapter = None
        self._consecutive_failures = 0
        self.last_switch_at = time.time()
        log = logger.info if phase is Phase.RECOVERING else logger.warning
        log(
            "%s: %s -> %s (serving from %r)%s",
            self.capability,
            previous.value,
            phase.value,
            self.active_name,
            f"; {self.last_error}" if phase is Phase.FALLBACK and self.last_error else "",
        )
        if previous is Phase.BACKEND or phase is Phase.BACKEND:  # a switch: calls go to the other adapter
            self.switch_count += 1
            self._metrics.fallback_switches.labels(self.capability, self.active_name).inc()
        self._publish_phase()
        for listener in self._listeners:
            outcome = listener(self, phase)
            if inspect.isawaitable(outcome):
                self._tasks.spawn(_awaited(outcome), name=f"sheepfold-switch-listener-{self.capability}")

    def _publish_phase(self) -> None:
        for phase in Phase:
            self._metrics.capability_phase.labels(self.capability, phase.value).set(1 if phase is self._phase else 0)
        gauge = self._metrics.active_backend
        gauge.labels(self.capability, self.backend_name).set(0)
        gauge.labels(self.capability, self.fallback_name).set(0)
        gauge.labels(self.capability, self.active_name).set(1)


def _timed_out(error: BaseException) -> bool:
    return isinstance(error, TimeoutError) or getattr(error, "timed_out", False) is True


def _on_both(backend_method: Callable[..., Any], fallback_method: Callable[..., Any]) -> Callable[..., Any]:
    def registered(*args: Any, **kwargs: Any) -> Any:
        fallback_method(*args, **kwargs)
        return backend_method(*args, **kwargs)

    registered.__name__ = getattr(backend_method, "__name__", "registered")
    return registered


async def _awaited(outcome: Awaitable[None]) -> None:
    await outcome
