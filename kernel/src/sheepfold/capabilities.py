"""Binding each capability to the adapters that settings name, behind a fallback switch."""

from __future__ import annotations

from typing import Any

from sheepfold.cache.recovery import apply_outage_changes, write_through
from sheepfold.errors import SettingsError
from sheepfold.fallback import FallbackSwitch
from sheepfold.outages import OutageDomains
from sheepfold.platform import Platform
from sheepfold.port_methods import adapter_problems
from sheepfold.ports import PORTS
from sheepfold.providers import ProviderRegistry


def bind_capabilities(platform: Platform, registry: ProviderRegistry) -> None:
    """Build every capability's backend and fallback and offer its switch as the port.

    Raises one :class:`SettingsError` listing every capability whose settings
    name an adapter no plugin registered, and every adapter that does not
    implement its port (a missing method, or async where the port's is not).
    """
    settings = platform.settings
    # Every unknown name first: an adapter that then refuses its settings must not hide them.
    problems = [
        problem
        for capability in PORTS
        for role in ("backend", "fallback")
        if (name := settings.get(f"{capability}.{role}")) is not None
        and (problem := registry.unknown(capability, name, setting=f"{capability}.{role}")) is not None
    ]
    if problems:
        raise SettingsError(problems)
    domains = OutageDomains()  # the switches of one backend server move together
    for capability, port in PORTS.items():
        backend_name = settings.get(f"{capability}.backend")
        fallback_name = settings.get(f"{capability}.fallback")
        try:
            backend = registry.build(capability, backend_name, platform, setting=f"{capability}.backend")
            fallback = (
                backend
                if fallback_name == backend_name
                else registry.build(capability, fallback_name, platform, setting=f"{capability}.fallback")
            )
        except SettingsError as error:
            problems += error.problems
            continue
        shape = adapter_problems(capability, backend_name, backend, port)
        if fallback is not backend:
            shape += adapter_problems(capability, fallback_name, fallback, port)
        if shape:
            problems += shape
            continue
        switch: FallbackSwitch[Any] = FallbackSwitch(
            capability,
            port,
            backend_name=backend_name,
            backend=backend,
            fallback_name=fallback_name,
            fallback=fallback,
            metrics=platform.metrics,
            tasks=platform.tasks,
            loop_lag=platform.loop_lag,
            probe_interval=settings.get("switch.probe_interval"),
            failure_threshold=settings.get("switch.failure_threshold"),
            call_timeout=settings.get("switch.call_timeout"),
            recovery_timeout=settings.get("switch.recovery_timeout"),
            shared_outage=domains.for_backend(backend) if fallback is not backend else None,
        )
        if capability == "cache" and switch.has_fallback:
            switch.add_recovery_step("cache-outage-changes", apply_outage_changes)
            switch.serve_while_recovering(write_through)
        platform.capabilities[capability] = switch
        platform.provide(port, switch)
    if problems:
        raise SettingsError(problems)
