"""Health of the platform: component reports and the overall verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """How well something serves: ``ok``, ``degraded`` (answers, with less), or ``down``."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass
class ComponentHealth:
    """One component's report in ``/health``.

    ``required`` components make the platform ``down`` when they are down;
    others make it only ``degraded``. ``details`` is shown to admins only.
    """

    name: str
    status: Status
    required: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "required": self.required, **self.details}


def overall_status(components: list[ComponentHealth], capabilities_degraded: bool) -> Status:
    """``down`` if a required component is down, ``degraded`` if anything is not ok, else ``ok``."""
    if any(c.status is Status.DOWN and c.required for c in components):
        return Status.DOWN
    if capabilities_degraded or any(c.status is not Status.OK for c in components):
        return Status.DEGRADED
    return Status.OK
