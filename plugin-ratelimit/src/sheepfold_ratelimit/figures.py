"""What the limited path remembers for the operator console: the keys most often limited, active penalties.

Both are fed only when a request is refused (429), which is rare next to
admitted requests, and both are bounded, so an attacker cycling through keys
costs a little memory and time per refusal, never more.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sheepfold.statistics import Cell

#: Slots of :class:`MostLimited`: keys limited more than 1/50 of all refusals are always among them.
MOST_LIMITED_SLOTS = 50
#: Keys :class:`ActivePenalties` remembers; beyond, the oldest block is forgotten (and counted).
PENALTY_KEYS = 10_000


class MostLimited:
    """The keys refused most often, by policy, estimated in a fixed number of slots (Space-Saving).

    Metwally, Agrawal and El Abbadi's *Space-Saving* algorithm (2005): a key
    already held is counted; a new key takes a free slot, or else the slot of
    the key with the lowest count, inheriting that count as its possible
    overestimate (``error``). Every key refused more than ``total / slots``
    times is held, and a held key's true count lies between ``count - error``
    and ``count``. A new key, once every slot is taken, costs one pass over the
    slots.
    """

    def __init__(self, slots: int = MOST_LIMITED_SLOTS) -> None:
        self.slots = slots
        self._counts: dict[tuple[str, str], int] = {}
        self._errors: dict[tuple[str, str], int] = {}

    def add(self, policy: str, key: str) -> None:
        """Count one refusal of ``key`` under ``policy``."""
        counts = self._counts
        entry = (policy, key)
        count = counts.get(entry)
        if count is not None:
            counts[entry] = count + 1
            return
        floor = 0
        if len(counts) >= self.slots:
            evicted = min(counts, key=counts.__getitem__)
            floor = counts.pop(evicted)
            self._errors.pop(evicted, None)
        counts[entry] = floor + 1
        if floor:
            self._errors[entry] = floor

    def top(self, count: int) -> list[dict[str, Cell]]:
        """The ``count`` keys with the most refusals, most first: policy, key, limited, error."""
        ranked = sorted(self._counts.items(), key=lambda item: item[1], reverse=True)[:count]
        return [
            {"policy": policy, "key": key, "limited": limited, "error": self._errors.get((policy, key), 0)}
            for (policy, key), limited in ranked
        ]


class ActivePenalties:
    """Keys this instance saw blocked by a progressive penalty, until their block ends.

    The limiter answers a refused hit with ``blocked`` and the wait; nothing
    else is read, so a block imposed through another instance is counted here
    only once a request of that key reaches this one. At most ``max_keys``
    blocks are remembered: beyond, the oldest is forgotten and counted in
    :attr:`forgotten`, and :meth:`active` is a lower bound.
    """

    def __init__(self, max_keys: int = PENALTY_KEYS, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self.forgotten = 0
        self._until: dict[tuple[str, str], float] = {}  # (policy, key) -> end of block, oldest block first

    def blocked(self, policy: str, key: str, seconds: float) -> None:
        """``key`` is blocked under ``policy`` for ``seconds`` more."""
        entry = (policy, key)
        until = self._until
        until.pop(entry, None)  # renewed: to the end, in order of when it was last seen
        until[entry] = self.clock() + seconds
        if len(until) > self.max_keys:
            del until[next(iter(until))]
            self.forgotten += 1

    def active(self) -> dict[str, int]:
        """Blocks not ended yet, by policy; ended ones are dropped (one pass, at most ``max_keys``)."""
        now = self.clock()
        self._until = {entry: end for entry, end in self._until.items() if end > now}
        by_policy: dict[str, int] = {}
        for policy, _key in self._until:
            by_policy[policy] = by_policy.get(policy, 0) + 1
        return by_policy
