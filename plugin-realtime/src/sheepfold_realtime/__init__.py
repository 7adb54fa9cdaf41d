"""sheepfold-realtime: WebSocket channels across sheepfold instances.

Clients connect to ``/ws`` and subscribe to channels (``user:<id>``,
``admin``, ``platform`` and those plugins declare with
``sheepfold_realtime_channels``); plugins and jobs send events with
:func:`publish`. The protocol is documented in ``docs/realtime.md``.
"""

from __future__ import annotations

from typing import Any

from sheepfold.platform import Platform
from sheepfold_realtime.channels import REALTIME_ADMIN, Authorize, ChannelRule
from sheepfold_realtime.hub import EventTooLarge, PublishOutcome, RealtimeHub
from sheepfold_realtime.settings import RealtimeSettings


async def publish(platform: Platform, channel: str, event: Any) -> PublishOutcome:
    """Send ``event`` (JSON-able) to every socket subscribed to ``channel``, on every instance.

    Usable from any plugin, route or job of a platform where
    ``sheepfold-realtime`` is enabled (LookupError otherwise). See
    :meth:`RealtimeHub.publish`.
    """
    return await RealtimeHub.of(platform).publish(channel, event)


__all__ = [
    "REALTIME_ADMIN",
    "Authorize",
    "ChannelRule",
    "EventTooLarge",
    "PublishOutcome",
    "RealtimeHub",
    "RealtimeSettings",
    "publish",
]
