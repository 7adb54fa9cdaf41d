"""Recovery steps: what a capability does after its backend answers again, before traffic returns to it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

P = TypeVar("P")
X = TypeVar("X")


@dataclass(frozen=True)
class Recovery(Generic[P]):
    """What a recovery step is handed: the capability's two adapters, each typed as the port.

    Calls to ``backend`` go straight to it: a failure raises (the switch then
    returns to the fallback and runs the step again after the next recovery),
    so a step forgets only what it has written. While steps run, the switch
    serves every call from ``fallback``. Keep neither beyond the step.
    """

    capability: str
    backend_name: str
    backend: P
    fallback: P
    _extras: Callable[[Callable[..., Any], str], Any] = field(repr=False)

    def fallback_as(self, kind: Callable[..., X]) -> X | None:
        """The fallback adapter if it is a ``kind`` (an extra it offers, such as an outage journal), else None."""
        extra: X | None = self._extras(kind, "fallback")
        return extra

    def backend_as(self, kind: Callable[..., X]) -> X | None:
        """The backend adapter if it is a ``kind``, else None."""
        extra: X | None = self._extras(kind, "backend")
        return extra


RecoveryStep = Callable[[Recovery[Any]], Awaitable[None]]
"""``await step(recovery)``: bring the backend up to date; raise (any error) when it could not."""


@dataclass(frozen=True)
class RecoveryResult:
    """How the last recovery of a capability ended (``/health`` shows it).

    ``outcome`` is ``ok``, or ``failed: <error>`` (the switch went back to its
    fallback). ``finished_at`` is epoch seconds; ``duration`` seconds.
    """

    outcome: str
    duration: float
    finished_at: float

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "duration": round(self.duration, 6), "finished_at": self.finished_at}
