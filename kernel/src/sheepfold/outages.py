"""Backends that fail together: the switches whose adapters share one server share the decision "it is down"."""

from __future__ import annotations

from typing import Any, Protocol


class OutageMember(Protocol):
    """What :class:`SharedOutage` asks of a switch: move to the fallback for an outage confirmed elsewhere."""

    def outage_confirmed(self, error: BaseException) -> None: ...


class SharedOutage:
    """The switches of one platform whose backend adapters name the same ``outage_domain`` (one Redis).

    One Redis serves sessions, cache and rate limiting through one
    connection: when it dies or goes silent, it is down for all of them. A
    capability with no call in flight when Redis froze would otherwise learn
    it only when a call of its own timed out and a probe of its own confirmed
    it (past a second, under load); here the first switch that confirms an
    outage (a refused connection, a timeout its probe confirmed) moves every
    member at once, and only one probe at a time confirms a timeout for all.
    The decision itself is unchanged: nothing a late event loop excuses is
    shared, because it is never confirmed. Each switch still recovers on its
    own (its own probe, its own recovery steps).
    """

    def __init__(self) -> None:
        self._members: list[OutageMember] = []
        #: True while a probe confirms a timeout on behalf of every member.
        self.confirming = False

    def join(self, member: OutageMember) -> None:
        self._members.append(member)

    def confirmed(self, error: BaseException) -> None:
        """The backend is down: every member goes to its fallback (a member already there stays)."""
        for member in self._members:
            member.outage_confirmed(error)


class OutageDomains:
    """One :class:`SharedOutage` per ``outage_domain`` among a platform's backend adapters.

    An adapter names its domain with an ``outage_domain`` attribute (any
    object; plugin-redis uses its :class:`~sheepfold_redis.RedisConnection`).
    An adapter without one shares with nobody.
    """

    def __init__(self) -> None:
        # Keyed by identity: a domain need not be hashable, and two equal connections are still two servers.
        self._shared: dict[int, tuple[Any, SharedOutage]] = {}

    def for_backend(self, backend: Any) -> SharedOutage:
        domain = getattr(backend, "outage_domain", None)
        if domain is None:
            return SharedOutage()
        found = self._shared.get(id(domain))
        if found is None:
            found = self._shared[id(domain)] = (domain, SharedOutage())  # the domain kept: its id stays unique
        return found[1]
