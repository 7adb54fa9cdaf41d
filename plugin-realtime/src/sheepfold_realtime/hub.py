"""The channels of one instance: local sockets first, then the broker, with sequence numbers and resync."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sheepfold import BACKEND_FAILURES, Recovery
from sheepfold.platform import Platform
from sheepfold.pubsub import PubSub, PubSubChannelLimit
from sheepfold_realtime.channels import valid_channel
from sheepfold_realtime.metrics import RealtimeMetrics
from sheepfold_realtime.settings import RealtimeSettings
from sheepfold_realtime.socket import CLOSE_GOING_AWAY, ClientSocket

logger = logging.getLogger("sheepfold.realtime")

#: Channels whose publish counter an instance remembers; an older one restarts at 1 (receivers accept that).
MAX_PUBLISHED_CHANNELS = 100_000


class EventTooLarge(ValueError):
    """An event's JSON is longer than ``realtime.max_event_size``."""


@dataclass(frozen=True)
class PublishOutcome:
    """What one :meth:`RealtimeHub.publish` reached: sockets here, connections of other instances, the broker."""

    local_sockets: int
    remote_instances: int
    broker_reached: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "local_sockets": self.local_sockets,
            "remote_instances": self.remote_instances,
            "broker_reached": self.broker_reached,
        }


class RealtimeHub:
    """Every local socket by channel, and this instance's side of the broker.

    A published event goes to the local sockets of its channel at once, then
    through the broker (the ``pubsub`` capability) in an envelope naming this
    instance and its per-channel publish number (and, when a plugin traces,
    the trace carrier that continues on delivery); an instance drops envelopes
    it sent itself, so no socket gets an event twice, and notices a gap in
    another instance's numbers (a message the broker lost) and sends
    ``resync``. The instance subscribes in the broker only to channels that
    have local sockets. Each channel's events carry a local ``seq`` that
    grows by one per event; a socket that had events dropped sees the gap.
    """

    def __init__(self, platform: Platform, settings: RealtimeSettings, metrics: RealtimeMetrics) -> None:
        self.instance_id = platform.instance_id
        self.settings = settings
        self.metrics = metrics
        self._origin = platform.instance_id.encode()
        self._switch = platform.capabilities["pubsub"]
        # The port: subscriptions are standing interests the switch sends to the backend in every phase.
        self._broker = platform.require(PubSub)
        self._sockets: set[ClientSocket] = set()
        self._channels: dict[str, set[ClientSocket]] = {}
        self._seq: dict[str, int] = {}  # channel -> last local seq sent to its sockets
        self._published: OrderedDict[str, int] = OrderedDict()  # channel -> last number this instance published
        self._heard: dict[str, dict[bytes, int]] = {}  # channel -> origin -> last number received
        #: False while the broker says this instance's subscriptions are lost.
        self.linked = True
        self._resync_owed = False  # subscriptions were lost and no resync was sent since
        self._propagation = platform.propagation
        self._broker.add_link_listener(self._link_changed)
        if self._switch.has_fallback:
            self._switch.add_recovery_step("realtime-resubscribe", self._resubscribe)

    @classmethod
    def of(cls, platform: Platform) -> RealtimeHub:
        """The hub of ``platform`` (LookupError when ``sheepfold-realtime`` is not enabled)."""
        return platform.require(cls)

    @property
    def sockets(self) -> set[ClientSocket]:
        return self._sockets

    def channel_count(self) -> int:
        return len(self._channels)

    def subscription_count(self) -> int:
        """Subscriptions of local sockets, over every channel (a socket in two channels counts twice)."""
        return sum(len(sockets) for sockets in self._channels.values())

    def busiest_channels(self, count: int) -> list[tuple[str, int, int]]:
        """The ``count`` channels with the most local sockets: ``(channel, sockets, events delivered here)``.

        Events are counted since the channel's first local socket joined (its ``seq``).
        """
        busiest = heapq.nlargest(count, self._channels.items(), key=lambda item: len(item[1]))
        return [(channel, len(sockets), self._seq.get(channel, 0)) for channel, sockets in busiest]

    # -- publishing ---------------------------------------------------------------------------

    async def publish(self, channel: str, event: Any) -> PublishOutcome:
        """Send ``event`` (anything ``json.dumps`` takes) to every socket subscribed to ``channel`` on any instance.

        Local sockets get it first; then one PUBLISH reaches the other
        instances. When the broker is down the local sockets still get it and
        the publish is counted as ``broker_down``; a publish that reached no
        socket and no instance is counted as ``no_receiver``. Raises
        ValueError for an invalid channel name, :class:`EventTooLarge` for an
        event over ``realtime.max_event_size``.
        """
        if not valid_channel(channel):
            raise ValueError(f"invalid channel name: {channel!r}")
        data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        if len(data) > self.settings.max_event_size:
            raise EventTooLarge(f"the event is {len(data)} characters; the limit is {self.settings.max_event_size}")
        local = self._deliver(channel, data)
        number = self._published.pop(channel, 0) + 1
        self._published[channel] = number
        if len(self._published) > MAX_PUBLISHED_CHANNELS:
            self._published.popitem(last=False)
        carrier = self._propagation.carrier()
        if carrier:  # the trace goes on where other instances deliver: "<number> <carrier as a query string>"
            envelope = b"%s\n%d %s\n%s" % (self._origin, number, urlencode(carrier).encode(), data.encode())
        else:
            envelope = b"%s\n%d\n%s" % (self._origin, number, data.encode())
        try:
            receivers = await self._broker.publish(channel, envelope)
            reached = self._switch.on_backend
        except BACKEND_FAILURES:
            receivers, reached = 0, False
        # The broker counts this instance's own subscription among the receivers.
        remote = max(0, receivers - (1 if channel in self._channels and self.linked else 0)) if reached else 0
        if not reached:
            self.metrics.publishes.labels("broker_down").inc()
        elif local == 0 and remote == 0:
            self.metrics.publishes.labels("no_receiver").inc()
        else:
            self.metrics.publishes.labels("delivered").inc()
        return PublishOutcome(local, remote, reached)

    def _deliver(self, channel: str, data: str) -> int:
        sockets = self._channels.get(channel)
        if not sockets:
            return 0
        seq = self._seq[channel] = self._seq.get(channel, 0) + 1
        frame = f'{{"type":"event","channel":{json.dumps(channel)},"seq":{seq},"data":{data}}}'
        for socket in sockets:
            socket.offer(channel, frame)
        self.metrics.deliveries.inc(len(sockets))
        return len(sockets)

    def _received(self, channel: str, envelope: bytes) -> None:
        """A message from the broker: drop our own, note gaps in another instance's numbers, deliver."""
        origin, _, rest = envelope.partition(b"\n")
        if origin == self._origin:
            return
        head, _, data = rest.partition(b"\n")
        number_text, _, carried = head.partition(b" ")
        try:
            number = int(number_text)
            text = data.decode()
        except ValueError:  # UnicodeDecodeError is one: no instance publishes an event that is not UTF-8
            logger.warning("channel %r: a message that is not a realtime envelope was ignored", channel)
            return
        heard = self._heard.setdefault(channel, {})
        last = heard.get(origin)
        heard[origin] = number
        if last is not None and number != last + 1 and number != 1:
            self._resync_channel(channel, "gap")
        if not self._propagation.enabled:
            self._deliver(channel, text)
            return
        # Never raising: a garbled carrier is one the tracer ignores (it starts a trace of its own).
        carrier = dict(parse_qsl(carried.decode("latin-1"))) if carried else {}
        attributes: dict[str, str | int] = {
            "sheepfold.realtime.channel": channel,
            "sheepfold.realtime.origin": origin.decode(errors="replace"),
        }
        with self._propagation.continued(carrier, "realtime deliver", attributes):
            self._deliver(channel, text)

    # -- subscriptions ------------------------------------------------------------------------

    def attach(self, socket: ClientSocket) -> None:
        self._sockets.add(socket)
        self.metrics.sockets.set(len(self._sockets))

    async def detach(self, socket: ClientSocket) -> None:
        """Forget a closed socket: leave its channels (unsubscribing in the broker where it was the last)."""
        self._sockets.discard(socket)
        self.metrics.sockets.set(len(self._sockets))
        for channel in list(socket.channels):
            await self.leave(socket, channel)

    async def join(self, socket: ClientSocket, channel: str) -> int:
        """Add ``socket`` to ``channel`` (already authorised); the channel's current seq.

        The first local socket of a channel subscribes the instance in the
        broker. A broker that is down does not refuse the join: local events
        flow at once and remote ones once the broker is back (with a resync).
        A broker that holds no more channels raises ``PubSubChannelLimit``.
        """
        socket.channels.add(channel)
        sockets = self._channels.get(channel)
        if sockets is None:
            sockets = self._channels[channel] = set()
            sockets.add(socket)
            try:
                await self._broker.subscribe(channel, self._received)
            except BACKEND_FAILURES as error:
                logger.info("channel %r: broker subscription deferred until it is back (%s)", channel, error)
            except PubSubChannelLimit:
                await self.leave(socket, channel)
                raise
        else:
            sockets.add(socket)
        return self._seq.get(channel, 0)

    async def leave(self, socket: ClientSocket, channel: str) -> None:
        socket.channels.discard(channel)
        sockets = self._channels.get(channel)
        if sockets is None:
            return
        sockets.discard(socket)
        if sockets:
            return
        del self._channels[channel]
        self._seq.pop(channel, None)
        self._heard.pop(channel, None)
        try:
            await self._broker.unsubscribe(channel, self._received)
        except BACKEND_FAILURES as error:
            logger.debug("channel %r: broker unsubscription failed (%s)", channel, error)

    # -- the broker link ----------------------------------------------------------------------

    def _link_changed(self, linked: bool) -> None:
        self.linked = linked
        self.metrics.linked.set(1 if linked else 0)
        if not linked:
            self._resync_owed = True
            logger.warning("realtime: broker subscriptions lost; local delivery only until it is back")
            return
        if self._switch.on_backend:  # otherwise the switch's recovery step resyncs, once traffic can return
            self._resync_all()

    async def _resubscribe(self, recovery: Recovery[PubSub]) -> None:
        """The pubsub capability's recovery step: every local channel subscribed again, then one resync.

        ``subscribe`` of a handler already subscribed is a no-op that returns
        once the subscription is active: publishes return to the broker only
        when this instance hears its channels again. A failure raises (the
        switch stays on its fallback).
        """
        for channel in list(self._channels):
            await recovery.backend.subscribe(channel, self._received)
        self._resync_owed = True  # publishes of this instance went to the fallback meanwhile
        self._resync_all()

    def _resync_all(self) -> None:
        if not self._resync_owed:
            return
        self._resync_owed = False
        logger.warning("realtime: broker subscriptions restored; sending resync on %d channel(s)", len(self._channels))
        self._heard.clear()  # numbers heard before the outage say nothing about what was missed
        for channel in list(self._channels):
            self._resync_channel(channel, "reconnected")

    def _resync_channel(self, channel: str, reason: str) -> None:
        for socket in self._channels.get(channel, ()):
            socket.resync(channel, reason)

    async def close_all(self) -> None:
        """Close every socket with 1001 (going away); each close is bounded by ``close_timeout``."""
        sockets = list(self._sockets)
        for socket in sockets:
            socket.close_soon(CLOSE_GOING_AWAY, "shutdown")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.close_timeout + 1):
                for socket in sockets:
                    await socket.closed.wait()
