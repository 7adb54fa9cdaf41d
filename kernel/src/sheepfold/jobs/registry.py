"""The job functions of one platform, collected from every plugin's ``sheepfold_jobs``, and its queues."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from dynaconf import Validator

from sheepfold.errors import PluginError
from sheepfold.jobs.definition import DEFAULT_QUEUE, JobDefinition
from sheepfold.jobs.errors import UnknownJobFunction, UnknownJobQueue
from sheepfold.settings import NameSetting

if TYPE_CHECKING:
    from sheepfold.platform import Platform


def _is_queue_table(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(options, dict) and isinstance(options.get("concurrency", 1), int) for options in value.values()
    )


def settings_validators() -> list[Validator]:
    """``[jobs]`` keys every job runner reads: queues and their concurrency, bounds, eager mode."""
    return [
        Validator("jobs.concurrency", default=10, is_type_of=int, gte=1),
        NameSetting(
            "jobs.queues",
            shape="keys",
            default={},
            condition=_is_queue_table,
            messages={"condition": "jobs.queues: expected a table of queues, e.g. {{ocr = {{concurrency = 4}}}}"},
        ),
        Validator("jobs.max_entries", default=100_000, is_type_of=int, gte=1),
        Validator("jobs.failed_max", default=1000, is_type_of=int, gte=1),
        Validator("jobs.eager", default=False, is_type_of=bool),
    ]


class JobRegistry:
    """Job definitions by name, and the queues they and settings name."""

    def __init__(
        self,
        definitions: Iterable[JobDefinition] = (),
        queue_concurrency: dict[str, int] | None = None,
        default_concurrency: int = 10,
    ) -> None:
        self._definitions: dict[str, JobDefinition] = {}
        for definition in definitions:
            if definition.name in self._definitions:
                raise PluginError(f"two job functions are named {definition.name!r}", hook="sheepfold_jobs")
            self._definitions[definition.name] = definition
        self._concurrency = dict(queue_concurrency or {})
        self.default_concurrency = default_concurrency

    @classmethod
    def of(cls, platform: Platform) -> JobRegistry:
        """The platform's registry, built from ``sheepfold_jobs`` and ``[jobs]`` on first call, then shared."""
        registry = platform.find(cls)
        if registry is None:
            definitions = []
            for plugin, offered in platform.plugins.call_each("sheepfold_jobs", platform=platform):
                for item in offered or ():
                    definitions.append(_as_definition(item, plugin))
            settings = platform.settings
            default = settings.get("jobs.concurrency", 10)
            queues = {
                name: int((options or {}).get("concurrency", default))
                for name, options in (settings.get("jobs.queues") or {}).items()
            }
            registry = cls(definitions, queues, default)
            platform.provide(cls, registry)
        return registry

    def __iter__(self) -> Iterator[JobDefinition]:
        return iter(self._definitions.values())

    def __len__(self) -> int:
        return len(self._definitions)

    def get(self, name: str) -> JobDefinition:
        """The definition of ``name``; :class:`UnknownJobFunction` listing the known names otherwise."""
        try:
            return self._definitions[name]
        except KeyError:
            known = ", ".join(sorted(self._definitions)) or "none"
            raise UnknownJobFunction(f"no job function named {name!r}; registered: {known}") from None

    def queue_for(self, definition: JobDefinition, queue: str | None) -> str:
        """The queue a job of ``definition`` goes to: ``queue``, else the definition's own.

        Raises :class:`UnknownJobQueue` for a queue no worker would serve (not in
        settings, not any definition's home).
        """
        return self.known_queue(queue or definition.queue)

    def known_queue(self, queue: str) -> str:
        """``queue`` itself when a worker would serve it; :class:`UnknownJobQueue` naming the known ones otherwise."""
        if queue not in self.queues():
            known = ", ".join(self.queues())
            raise UnknownJobQueue(f"no job queue named {queue!r}; declare it in [jobs.queues] (known: {known})")
        return queue

    def queues_to_count(self, queue: str | None) -> list[str]:
        """The queues a ``statistics(queue=...)`` call covers: every queue for None, else ``[queue]`` if known."""
        return self.queues() if queue is None else [self.known_queue(queue)]

    def queues(self) -> list[str]:
        """Every queue named in settings or by a definition, and ``default``."""
        names = {DEFAULT_QUEUE, *self._concurrency, *(definition.queue for definition in self)}
        return sorted(names)

    def concurrency(self, queue: str) -> int:
        """How many jobs of ``queue`` one worker runs at once (``[jobs.queues.<name>] concurrency``)."""
        return self._concurrency.get(queue, self.default_concurrency)

    def longest_timeout(self, queue: str) -> float:
        """The longest timeout of the functions whose home is ``queue`` (else of all functions)."""
        own = [definition.timeout for definition in self if definition.queue == queue]
        every = [definition.timeout for definition in self]
        return max(own or every or [300.0])


def _as_definition(item: Any, plugin: str) -> JobDefinition:
    if isinstance(item, JobDefinition):
        return item
    if inspect.iscoroutinefunction(item):
        return JobDefinition(item)
    raise PluginError(f"expected JobDefinition or async function, got {type(item).__name__}", plugin=plugin)
