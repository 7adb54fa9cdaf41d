"""What one instance announces of itself: the heartbeat record, and how it travels as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: An instance whose newest heartbeat is older than this many of its own intervals is gone (one beat missed).
LIVE_FACTOR = 2.5


@dataclass(frozen=True, slots=True)
class CapabilityPhase:
    """One capability of an instance: the adapter serving it, its phase, and when it last moved."""

    active: str
    phase: str
    last_switch_at: float | None = None


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """One instance as its heartbeat describes it.

    ``vitals`` are figures over the last heartbeat interval (see
    :data:`~sheepfold.fleet.vitals.VITALS`); a figure is None when the instance
    cannot tell (no requests, the plugin that measures it is not there).
    ``address`` is the base URL other instances reach it at (None when
    unknown); ``leaving`` marks the last record of an instance that stopped.
    """

    instance: str
    version: str
    plugins: tuple[str, ...]
    started_at: float
    sent_at: float
    interval: float
    address: str | None = None
    capabilities: Mapping[str, CapabilityPhase] = field(default_factory=dict)
    vitals: Mapping[str, float | None] = field(default_factory=dict)
    leaving: bool = False

    @property
    def uptime(self) -> float:
        """Seconds from the instance's start to this record."""
        return max(0.0, self.sent_at - self.started_at)

    def live(self, now: float) -> bool:
        """False once the instance left or missed a heartbeat (``now``: epoch seconds on the reader's clock)."""
        return not self.leaving and now - self.sent_at <= LIVE_FACTOR * self.interval

    def to_json(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "version": self.version,
            "plugins": list(self.plugins),
            "started_at": self.started_at,
            "sent_at": self.sent_at,
            "uptime_seconds": round(self.uptime, 3),
            "interval": self.interval,
            "address": self.address,
            "capabilities": {
                name: {"active": state.active, "phase": state.phase, "last_switch_at": state.last_switch_at}
                for name, state in self.capabilities.items()
            },
            "vitals": dict(self.vitals),
            "leaving": self.leaving,
        }

    def encode(self) -> bytes:
        """The record as compact JSON bytes (what the heartbeat stores)."""
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: Any) -> InstanceRecord:
        """The record ``data`` (what :meth:`to_json` made) describes; ValueError when it is not one."""
        try:
            capabilities = {
                str(name): CapabilityPhase(str(state["active"]), str(state["phase"]), _number(state["last_switch_at"]))
                for name, state in data["capabilities"].items()
            }
            vitals = {str(name): _number(value) for name, value in data["vitals"].items()}
            address = data["address"]
            return cls(
                instance=str(data["instance"]),
                version=str(data["version"]),
                plugins=tuple(str(name) for name in data["plugins"]),
                started_at=float(data["started_at"]),
                sent_at=float(data["sent_at"]),
                interval=float(data["interval"]),
                address=None if address is None else str(address),
                capabilities=capabilities,
                vitals=vitals,
                leaving=bool(data["leaving"]),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise ValueError(f"not an instance record: {error!r}") from None

    @classmethod
    def decode(cls, raw: bytes) -> InstanceRecord:
        """The record in ``raw`` (what :meth:`encode` made); ValueError when it is not one."""
        try:
            data = json.loads(raw)
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ValueError(f"not an instance record: {error}") from None
        return cls.from_json(data)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)
