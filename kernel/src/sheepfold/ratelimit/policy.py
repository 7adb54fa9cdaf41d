"""Rate-limit policies: windows such as ``"100/minute"``, penalties, and what to do while the backend is down.

A policy is parsed once from settings (``[ratelimit.policies.<name>]``) and
then passed to :meth:`~sheepfold.ratelimit.RateLimiter.hit` with every
request; it is frozen, so adapters may cache what they derive from it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

#: What a policy does while the rate limiter's backend is down: count in this instance's memory
#: (the limit divided by the policy's ``expected_instances``), let every request through, or refuse them.
OutageMode = Literal["memory", "open", "closed"]
OUTAGE_MODES: tuple[OutageMode, ...] = ("memory", "open", "closed")

_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_RATE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+(?:\.\d+)?)?\s*([a-z]+?)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RateLimitWindow:
    """At most ``limit`` units in any ``seconds``-long stretch of time (a sliding window)."""

    limit: int
    seconds: float

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"a window's limit must be at least 1, got {self.limit}")
        if not self.seconds > 0:
            raise ValueError(f"a window must last more than 0 seconds, got {self.seconds}")

    @classmethod
    def parse(cls, text: str) -> RateLimitWindow:
        """``"100/minute"``, ``"10/second"``, ``"1000/hour"``, ``"5/30seconds"``, ``"2 per 10 s"``.

        Raises ``ValueError`` saying what is expected.
        """
        match = _RATE.match(text) if isinstance(text, str) else None
        unit = _UNITS.get(match.group(3).lower()) if match else None
        if match is None or unit is None:
            raise ValueError(f"expected a rate such as '100/minute' or '10/30seconds', got {text!r}")
        count = float(match.group(2)) if match.group(2) else 1.0
        return cls(int(match.group(1)), count * unit)

    def __str__(self) -> str:
        seconds = f"{self.seconds:g}"
        return f"{self.limit}/{seconds}s"


@dataclass(frozen=True, slots=True)
class PenaltyPolicy:
    """Progressive penalties: the n-th breach in a row blocks a key for ``min(base * factor**(n-1), max)`` seconds.

    A breach is a refused hit while the key is not blocked already (hits
    during a block are refused without counting). The breach count is
    forgotten once the key has gone ``forget_after`` seconds past the end of
    its last block without a breach.
    """

    base: float
    factor: float = 2.0
    max: float = 3600.0
    forget_after: float = 3600.0

    def __post_init__(self) -> None:
        if not self.base > 0:
            raise ValueError(f"penalty.base must be more than 0 seconds, got {self.base}")
        if self.factor < 1:
            raise ValueError(f"penalty.factor must be at least 1, got {self.factor}")
        if self.max < self.base:
            raise ValueError(f"penalty.max must be at least penalty.base, got {self.max}")
        if not self.forget_after > 0:
            raise ValueError(f"penalty.forget_after must be more than 0 seconds, got {self.forget_after}")

    def block_for(self, breaches: int) -> float:
        """Seconds the ``breaches``-th breach in a row blocks for."""
        return min(self.base * self.factor ** (breaches - 1), self.max)


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """A named set of windows, every one of which must admit a hit, and an optional penalty.

    ``on_outage`` and ``expected_instances`` say what the rate-limit plugin
    does while the shared backend is down: ``"memory"`` counts in this
    process with each limit divided by ``expected_instances``, ``"open"``
    admits every request, ``"closed"`` refuses with 503. Adapters ignore them.
    """

    name: str
    windows: tuple[RateLimitWindow, ...]
    penalty: PenaltyPolicy | None = None
    on_outage: OutageMode = "memory"
    expected_instances: int = 1
    #: A string naming the policy, its windows and penalty: adapters put it in their keys
    #: (so changing a policy's numbers starts it afresh instead of misreading old counts)
    #: and key their caches by it (a string hashes once; the dataclass would hash every field every time).
    fingerprint: str = field(init=False, compare=False)
    #: Seconds of the longest window.
    longest: float = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not self.windows:
            raise ValueError("a policy needs at least one window")
        if self.on_outage not in OUTAGE_MODES:
            raise ValueError(f"on_outage must be one of {', '.join(OUTAGE_MODES)}, got {self.on_outage!r}")
        if self.expected_instances < 1:
            raise ValueError(f"expected_instances must be at least 1, got {self.expected_instances}")
        fingerprint = f"{self.name}:" + ",".join(str(window) for window in self.windows)
        if self.penalty is not None:
            p = self.penalty
            fingerprint += f":penalty={p.base:g},{p.factor:g},{p.max:g},{p.forget_after:g}"
        object.__setattr__(self, "fingerprint", fingerprint)
        object.__setattr__(self, "longest", max(window.seconds for window in self.windows))

    def per_instance(self) -> RateLimitPolicy:
        """This policy with every limit divided by ``expected_instances`` (at least 1), for local counting."""
        if self.expected_instances == 1:
            return self
        windows = tuple(
            RateLimitWindow(max(1, math.floor(w.limit / self.expected_instances)), w.seconds) for w in self.windows
        )
        return replace(self, windows=windows, expected_instances=1)

    @classmethod
    def from_settings(cls, name: str, section: Mapping[str, Any], *, expected_instances: int = 1) -> RateLimitPolicy:
        """Build the policy ``name`` from its settings section.

        ``limit`` is a rate or a list of rates; ``penalty`` an optional table of
        ``base``, ``factor``, ``max``, ``forget_after`` (seconds); ``on_outage``
        one of ``memory``, ``open``, ``closed``; ``expected_instances``
        overrides the global count. Raises ``ValueError`` naming the key.
        """
        limit = section.get("limit")
        rates = [limit] if isinstance(limit, str) else limit
        if not isinstance(rates, list) or not rates:
            raise ValueError(f"ratelimit.policies.{name}.limit: expected a rate or a list of rates, got {limit!r}")
        try:
            windows = tuple(RateLimitWindow.parse(rate) for rate in rates)
        except ValueError as error:
            raise ValueError(f"ratelimit.policies.{name}.limit: {error}") from None
        penalty_section = section.get("penalty")
        try:
            penalty = None if not penalty_section else PenaltyPolicy(**_lower_keys(penalty_section))
        except (TypeError, ValueError) as error:
            raise ValueError(f"ratelimit.policies.{name}.penalty: {error}") from None
        try:
            return cls(
                name,
                windows,
                penalty,
                on_outage=section.get("on_outage", "memory"),
                expected_instances=int(section.get("expected_instances", expected_instances)),
            )
        except ValueError as error:
            raise ValueError(f"ratelimit.policies.{name}: {error}") from None


def _lower_keys(section: Mapping[str, Any]) -> dict[str, Any]:
    # dynaconf hands nested tables back with the keys as written; the dataclass wants lower case.
    return {str(key).lower(): value for key, value in dict(section).items()}
