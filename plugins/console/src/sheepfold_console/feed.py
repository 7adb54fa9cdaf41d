"""The live feed: while a console page listens on this instance's WebSocket, snapshots are pushed to it.

With ``sheepfold-realtime`` enabled, the page opens ``/ws``, learns from the
welcome frame which instance holds its socket, and subscribes to
``console:<that instance>``. The subscription wakes this instance's feed
(its channel rule does), which then publishes a snapshot every
``console.refresh_interval`` seconds, and ends by itself once
:data:`IDLE_ROUNDS` snapshots in a row reached no local socket: nothing runs
while nobody watches. A channel per instance keeps each page on the figures
of the instance it talks to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sheepfold import Identity, Platform
from sheepfold.http.admin import AdminGuard
from sheepfold.identity import ADMIN
from sheepfold.tasks import cancel_requested

if TYPE_CHECKING:
    from sheepfold_realtime import ChannelRule, RealtimeHub

logger = logging.getLogger("sheepfold.console")

#: The realtime channels of console pages: ``console:<instance id>``.
CHANNEL = "console"
#: Rounds in a row that reached no socket of this instance before the feed stops.
IDLE_ROUNDS = 2


class ConsoleFeed:
    """Publishes ``build()`` to ``console:<instance id>`` every ``interval`` seconds while a page listens here."""

    def __init__(
        self,
        platform: Platform,
        hub: RealtimeHub,
        build: Callable[[], Awaitable[dict[str, Any]]],
        *,
        interval: float,
    ) -> None:
        self.platform = platform
        self.hub = hub
        self.build = build
        self.interval = interval
        self.channel = f"{CHANNEL}:{platform.instance_id}"
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Start publishing (no-op while it runs); called when a socket subscribes to :attr:`channel`."""
        if not self.running and not self.platform.tasks.stopped:
            self._task = self.platform.tasks.spawn(self._publish_while_watched(), name="sheepfold-console-feed")

    async def _publish_while_watched(self) -> None:
        from sheepfold_realtime import EventTooLarge

        idle = 0
        while idle < IDLE_ROUNDS:
            try:
                snapshot = await self.build()
                try:
                    outcome = await self.hub.publish(self.channel, snapshot)
                except EventTooLarge:  # the page fetches GET /-/console/api/snapshot instead
                    outcome = await self.hub.publish(self.channel, {"too_large": True, "at": snapshot["at"]})
                idle = 0 if outcome.local_sockets else idle + 1
            except Exception:
                logger.exception("console feed: a round failed; the next one runs in %s s", self.interval)
            if cancel_requested():
                raise asyncio.CancelledError
            await asyncio.sleep(self.interval)


def channel_rule(platform: Platform) -> ChannelRule:
    """The realtime rule of ``console:<instance id>``: this instance's own channel, for admins (or anyone, on an
    open admin surface); joining it wakes the :class:`ConsoleFeed` (the ``sheepfold_realtime_channels`` answer)."""
    from sheepfold_realtime import ChannelRule

    guard = platform.require(AdminGuard)
    own = f"{CHANNEL}:{platform.instance_id}"

    def authorize(identity: Identity, channel: str) -> bool:
        feed = platform.find(ConsoleFeed)
        if feed is None or channel != own or not (guard.open or platform.allowed(identity, ADMIN)):
            return False
        feed.wake()
        return True

    return ChannelRule(CHANNEL, authorize, "console pages: console:<instance id>, admins only")
