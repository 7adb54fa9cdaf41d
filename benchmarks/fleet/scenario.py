"""A scenario file (TOML): the fleet, the load shape, the route mix, the chaos schedule, the checks."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CHAOS_KINDS = ("redis-kill", "worker-kill", "instance-kill", "postgres-restart", "cpu-hog")


@dataclass(frozen=True)
class Load:
    """An open-loop load: ``connections`` each sending ``rate`` requests/s, opened over ``ramp`` seconds."""

    connections: int
    rate: int
    ramp: int
    duration: int
    users: int
    signed_in: float


@dataclass(frozen=True)
class Route:
    path: str
    weight: int


@dataclass(frozen=True)
class ChaosEvent:
    """``kind`` at ``at`` seconds into a side's load; ``duration`` seconds until it is undone."""

    kind: str
    at: float
    duration: float
    instance: int = 0
    processes: int = 1


@dataclass(frozen=True)
class Checks:
    """What makes the run fail (exit status 1): sheepfold's side only, the bare app has no fallbacks."""

    max_5xx: int | None = None
    max_anonymous: int | None = None
    #: Moves of any capability to its fallback, read from the instances' own ``sheepfold_fallback_switches``.
    max_switches: int | None = None
    #: The client-side p95 over the whole load (h2load), in milliseconds.
    max_p95_ms: float | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    instances: int
    window: float
    compare_bare: bool
    load: Load
    routes: tuple[Route, ...]
    chaos: tuple[ChaosEvent, ...]
    checks: Checks
    settings: dict[str, object] = field(default_factory=dict)
    #: Sample the first instance of each side with py-spy: where the server CPU goes (benchmarks/fleet/profile.py).
    profile: bool = False

    @property
    def load_seconds(self) -> int:
        """How long one side's load lasts: the last connection opens at ``ramp`` and sends for ``duration``."""
        return self.load.ramp + self.load.duration


def read_scenario(path: Path) -> Scenario:
    """The scenario in ``path``; ``ValueError`` names what is wrong."""
    data = tomllib.loads(path.read_text())
    load = Load(**data["load"])
    if load.connections < 1 or load.rate < 1 or load.duration < 1 or not 0 <= load.signed_in <= 1:
        raise ValueError(f"{path}: [load] needs connections, rate, duration >= 1 and 0 <= signed_in <= 1")
    chaos = tuple(ChaosEvent(**event) for event in data.get("chaos", []))
    for event in chaos:
        if event.kind not in CHAOS_KINDS:
            raise ValueError(f"{path}: chaos kind {event.kind!r} is not one of {', '.join(CHAOS_KINDS)}")
    return Scenario(
        name=data.get("name", path.stem),
        instances=int(data.get("instances", 2)),
        window=float(data.get("window", 5)),
        compare_bare=bool(data.get("compare_bare", True)),
        load=load,
        routes=tuple(Route(**route) for route in data["routes"]),
        chaos=tuple(sorted(chaos, key=lambda event: event.at)),
        checks=Checks(**data.get("checks", {})),
        settings=data.get("settings", {}),
        profile=bool(data.get("profile", False)),
    )
