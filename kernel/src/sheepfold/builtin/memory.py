"""Built-in plugin: the in-memory adapter of every port, so the kernel alone is a working platform."""

from __future__ import annotations

import functools

from dynaconf import Validator

from sheepfold.cache.memory import MemoryCache
from sheepfold.health import ComponentHealth, Status
from sheepfold.hookspecs import hookimpl
from sheepfold.jobs.memory import MemoryJobs
from sheepfold.jobs.registry import JobRegistry
from sheepfold.jobs.registry import settings_validators as jobs_validators
from sheepfold.memory.adapter import MemoryAdapter
from sheepfold.platform import Platform
from sheepfold.ports import PORTS
from sheepfold.pubsub.memory import MemoryPubSub
from sheepfold.ratelimit.memory import MemoryRateLimiter
from sheepfold.sessions.memory import MemorySessionRecords
from sheepfold.state.memory import MemoryState
from sheepfold.types import RegisterProvider


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    validators = [
        Validator("state.max_entries", default=100_000, is_type_of=int, gte=1),
        Validator("cache.max_entries", default=10_000, is_type_of=int, gte=1),
        Validator("ratelimit.max_entries", default=100_000, is_type_of=int, gte=1),
        Validator("sessions.max_entries", default=100_000, is_type_of=int, gte=1),
        Validator("pubsub.max_channels", default=10_000, is_type_of=int, gte=1),
        *jobs_validators(),
    ]
    for capability in PORTS:
        validators += [
            Validator(f"{capability}.backend", default="memory", is_type_of=str),
            Validator(f"{capability}.fallback", default="memory", is_type_of=str),
        ]
    return validators


_Bounded = MemoryState | MemoryCache | MemoryRateLimiter | MemorySessionRecords
#: The memory adapters bounded by ``<capability>.max_entries``.
_BOUNDED_ADAPTERS: dict[str, type[_Bounded]] = {
    "state": MemoryState,
    "cache": MemoryCache,
    "ratelimit": MemoryRateLimiter,
    "sessions": MemorySessionRecords,
}


@hookimpl
def sheepfold_register_providers(register: RegisterProvider) -> None:
    for capability, adapter in _BOUNDED_ADAPTERS.items():
        register(capability, "memory", functools.partial(_bounded, adapter, capability))
    register("jobs", "memory", _memory_jobs)
    register("pubsub", "memory", lambda platform: MemoryPubSub(platform.settings.get("pubsub.max_channels")))


def _bounded(adapter: type[_Bounded], capability: str, platform: Platform) -> _Bounded:
    return adapter(platform.settings.get(f"{capability}.max_entries"), tasks=platform.tasks)


def _memory_jobs(platform: Platform) -> MemoryJobs:
    settings = platform.settings
    return MemoryJobs(
        JobRegistry.of(platform),
        max_entries=settings.get("jobs.max_entries"),
        failed_max=settings.get("jobs.failed_max"),
        eager=settings.get("jobs.eager"),
        platform=platform,
        tasks=platform.tasks,
    )


@hookimpl
def sheepfold_health(platform: Platform) -> ComponentHealth:
    entries = {}
    for name, switch in platform.capabilities.items():
        for adapter in {id(switch.backend): switch.backend, id(switch.fallback): switch.fallback}.values():
            if isinstance(adapter, MemoryAdapter):
                entries[name] = {"entries": len(adapter.store), "max_entries": adapter.store.max_entries}
    return ComponentHealth("memory", Status.OK, details={"capabilities": entries})
