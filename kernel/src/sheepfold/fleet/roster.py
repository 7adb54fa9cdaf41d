"""The fleet: every instance announces itself through the state capability, and any instance lists the live ones."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

from sheepfold.fallback import BACKEND_FAILURES
from sheepfold.fleet.peers import PeerUnavailable, ask_peer
from sheepfold.fleet.record import LIVE_FACTOR, CapabilityPhase, InstanceRecord
from sheepfold.fleet.vitals import VitalSigns
from sheepfold.namespace import Namespace
from sheepfold.periodic import PeriodicTask
from sheepfold.state.port import State

if TYPE_CHECKING:
    from sheepfold.platform import Platform

logger = logging.getLogger("sheepfold.fleet")

#: The capped list of heartbeats, newest first, in the state capability.
HEARTBEATS = Namespace("fleet").key("heartbeats")
#: Heartbeats read per state call; a fleet of up to a third as many instances is read in one call.
PAGE = 64
#: Heartbeats the list keeps per instance of ``fleet.max_instances``: enough for every live one's newest.
BEATS_PER_INSTANCE = 4


@dataclass(frozen=True)
class FleetView:
    """The live instances as one instance sees them now.

    ``shared``: read from the state capability's backend (every instance's
    heartbeat). False while that backend is down: the instances listed then
    are this one and the peers that answered a direct request; those known
    from the last shared read that did not answer are in ``unreachable``
    (their last record).
    """

    instances: list[InstanceRecord]
    shared: bool = True
    unreachable: list[InstanceRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "shared": self.shared,
            "instances": [record.to_json() for record in self.instances],
            "unreachable": [record.to_json() for record in self.unreachable],
        }


class Fleet:
    """This instance's heartbeat, and the list of live instances (``platform.fleet``).

    Every ``fleet.heartbeat_interval`` seconds the instance pushes its
    :class:`~sheepfold.fleet.InstanceRecord` to the head of one capped list
    in the state capability (on Redis: one script, ``LPUSH`` + ``LTRIM`` +
    ``PEXPIRE``, per interval); the list keeps ``BEATS_PER_INSTANCE`` times
    ``fleet.max_instances`` records and expires when no instance beats any
    more, so it never grows and is never scanned. An instance is live while
    its newest record is younger than ``LIVE_FACTOR`` intervals (one beat
    missed: gone) and it did not leave (a stopping instance pushes a last
    record saying so). Readers compare the record's time with their own
    clock: keep the fleet's clocks in sync (NTP) to well within an interval.

    While the state capability's backend is down, each instance's heartbeat
    reaches only its own fallback, so :meth:`view` asks the peers of the last
    shared read directly (``GET /-/fleet/self`` at their ``address``, with
    the admin token) and lists those that answer.
    """

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.started_at = time.time()
        #: The base URL peers reach this instance at: ``fleet.address``, or what ``sheepfold serve`` derived.
        self.address: str | None = None
        self._version = metadata.version("sheepfold")
        self._vitals: VitalSigns | None = None
        self._latest_vitals: dict[str, float | None] = {}
        self._peers: dict[str, InstanceRecord] = {}
        self._beats: PeriodicTask | None = None

    @property
    def interval(self) -> float:
        """Seconds between heartbeats (``fleet.heartbeat_interval``)."""
        return float(self._platform.settings.get("fleet.heartbeat_interval"))

    @property
    def _capacity(self) -> int:
        return BEATS_PER_INSTANCE * int(self._platform.settings.get("fleet.max_instances"))

    def start(self) -> None:
        """Start the heartbeat (a task of ``platform.tasks``); the first one is sent at once."""
        if "state" not in self._platform.capabilities:
            return
        self.address = self.address or self._platform.settings.get("fleet.address") or None
        self._vitals = VitalSigns(self._platform)
        self._beats = PeriodicTask(
            self.beat, self.interval, name="sheepfold-fleet-heartbeat", logger=logger,
            immediately=True, failure_level=logging.WARNING,
        )  # fmt: skip
        self._beats.start(self._platform.tasks)

    async def stop(self) -> None:
        """Stop the heartbeat and push a last record saying this instance left (within an interval, at most 1 s)."""
        if self._beats is None:
            return
        await self._beats.stop()
        self._beats = None
        try:
            async with asyncio.timeout(min(self.interval, 1.0)):
                await self._push(self.own_record(leaving=True))
        except BACKEND_FAILURES as error:
            logger.info("the fleet was not told that %s left: %s", self._platform.instance_id, error)

    async def beat(self) -> None:
        """Measure the vital signs since the last beat and push this instance's record (one state call)."""
        if self._vitals is not None:
            self._latest_vitals = self._vitals.sample()
        await self._push(self.own_record())

    async def _push(self, record: InstanceRecord) -> None:
        state = self._platform.require(State)
        await state.list_push(HEARTBEATS, record.encode(), max_length=self._capacity, ttl=LIVE_FACTOR * self.interval)

    def own_record(self, *, leaving: bool = False) -> InstanceRecord:
        """This instance now: its capabilities' phases as they are, its vital signs as of the last beat. No I/O."""
        platform = self._platform
        return InstanceRecord(
            instance=platform.instance_id,
            version=self._version,
            plugins=tuple(sorted(info.name for info in platform.plugins.infos.values() if info.enabled)),
            started_at=self.started_at,
            sent_at=time.time(),
            interval=self.interval,
            address=self.address,
            capabilities={
                name: CapabilityPhase(switch.active_name, switch.phase.value, switch.last_switch_at)
                for name, switch in platform.capabilities.items()
            },
            vitals=dict(self._latest_vitals),
            leaving=leaving,
        )

    async def instances(self) -> list[InstanceRecord]:
        """The live instances, this one included, sorted by id.

        One state read (on Redis, one ``LRANGE`` for a fleet of up to about
        twenty instances, a few more for larger ones). While the state
        backend is down: this instance and the peers that answer directly (one
        HTTP request to each peer of the last shared read, at once, within
        one heartbeat interval and at most a second).
        """
        return (await self.view()).instances

    async def view(self) -> FleetView:
        """:meth:`instances`, saying whether they were read from the shared state and which peers did not answer."""
        own = self.own_record()
        try:
            records, shared = await self._read_shared(own.sent_at)
        except BACKEND_FAILURES as error:
            logger.debug("the fleet's heartbeats could not be read: %s", error)
            records, shared = [], False
        if shared:
            self._peers = {record.instance: record for record in records if record.instance != own.instance}
            return FleetView(sorted([own, *self._peers.values()], key=_by_id), shared=True)
        answered, unreachable = await self._ask_peers()
        return FleetView(sorted([own, *answered], key=_by_id), shared=False, unreachable=unreachable)

    async def _read_shared(self, now: float) -> tuple[list[InstanceRecord], bool]:
        switch = self._platform.capabilities["state"]
        state = self._platform.require(State)
        newest: dict[str, InstanceRecord] = {}
        shared = True
        oldest_wanted = now - LIVE_FACTOR * self.interval
        start = 0
        while start < self._capacity:
            items, from_backend = await switch.answer_of(state.list_range(HEARTBEATS, start, start + PAGE - 1))
            shared = shared and from_backend
            oldest = now
            for raw in items:
                try:
                    record = InstanceRecord.decode(raw)
                except ValueError:
                    continue  # written by something else than this version's heartbeat
                newest.setdefault(record.instance, record)
                oldest = min(oldest, record.sent_at)
                oldest_wanted = min(oldest_wanted, now - LIVE_FACTOR * record.interval)
            if len(items) < PAGE or oldest < oldest_wanted:
                break
            start += PAGE
        return [record for record in newest.values() if record.live(now)], shared

    async def _ask_peers(self) -> tuple[list[InstanceRecord], list[InstanceRecord]]:
        token = self._platform.settings.get("admin.token") or ""
        timeout = min(self.interval, 1.0)
        peers = [record for record in self._peers.values() if record.address]

        async def ask(record: InstanceRecord) -> InstanceRecord | None:
            try:
                return await ask_peer(record.address or "", token=token, timeout=timeout)
            except PeerUnavailable as error:
                logger.debug("peer %s did not answer: %s", record.instance, error)
                return None

        answers = await asyncio.gather(*(ask(record) for record in peers))
        answered = [answer for answer in answers if answer is not None]
        unreachable = [record for record, answer in zip(peers, answers, strict=True) if answer is None]
        unreachable += [record for record in self._peers.values() if not record.address]
        return answered, sorted(unreachable, key=_by_id)


def _by_id(record: InstanceRecord) -> str:
    return record.instance
