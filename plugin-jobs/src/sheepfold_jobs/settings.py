"""The ``[jobs]`` keys of the arq adapter, its workers and its spool (the kernel declares the rest of ``[jobs]``)."""

from __future__ import annotations

from dynaconf import Validator

from sheepfold import NameSetting
from sheepfold.jobs import Priority

PRIORITY_NAMES = frozenset(band.name.lower() for band in Priority)


def _is_list_of_str(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_priority_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(name, str) and name in PRIORITY_NAMES for name in value)


def settings_validators() -> list[Validator]:
    number = (int, float)
    return [
        Validator("jobs.worker.embedded", default=False, is_type_of=bool),
        NameSetting("jobs.worker.queues", shape="value", default=[], condition=_is_list_of_str),
        Validator("jobs.worker.idle_poll", default=1.0, is_type_of=number, gt=0),
        Validator("jobs.worker.crash_margin", default=10.0, is_type_of=number, gte=0),
        Validator("jobs.worker.shutdown_grace", default=10.0, is_type_of=number, gte=0),
        Validator("jobs.spool.max_entries", default=10_000, is_type_of=int, gte=1),
        Validator("jobs.spool.run_priorities", default=[], condition=_is_priority_list),
        Validator("jobs.metrics_interval", default=5.0, is_type_of=number, gte=0),
    ]
