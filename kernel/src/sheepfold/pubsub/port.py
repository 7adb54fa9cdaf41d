"""The pub/sub broker port: fire-and-forget messages on named channels, across instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from sheepfold.port_methods import standing_interest

MessageHandler = Callable[[str, bytes], None]
"""Called as ``handler(channel, message)`` in the event loop for each message; must not block."""

LinkListener = Callable[[bool], None]
"""Called with False when the adapter's subscriptions were lost, True when they are back."""


@runtime_checkable
class PubSub(Protocol):
    """Publish bytes on a channel; every handler subscribed to it, in any instance, is called once.

    Delivery is at most once and in publish order per publisher: a message
    published while a subscriber's link to the broker is down is lost for it,
    and the adapter says so through its link listeners (False when the link
    drops, True once every subscription is active again), so a feature can
    tell its clients to resynchronise. Subscriptions are standing interests:
    the adapter keeps them across its backend's outages and re-establishes
    them by itself, without a call from the feature. Channels are opaque
    strings (the adapter namespaces them). :meth:`publish` raises
    :class:`~sheepfold.errors.BackendUnavailable` when the backend is down.
    """

    async def publish(self, channel: str, message: bytes) -> int:
        """Send ``message`` to every subscriber of ``channel``; the number of subscribed connections it reached.

        The count includes this adapter's own subscription to ``channel`` when
        it has one (Redis counts connections, the memory adapter handlers):
        0 means nobody anywhere received it.
        """
        ...

    @standing_interest
    async def subscribe(self, channel: str, handler: MessageHandler) -> None:
        """Call ``handler`` for every message on ``channel`` from now on.

        The interest is recorded first and kept until :meth:`unsubscribe`;
        when this returns, the subscription is active in the broker, so a
        message published afterwards (from anywhere) reaches ``handler``.
        When the backend is down it raises ``BackendUnavailable``: the interest
        stays recorded and becomes active when the backend is back (a link
        listener is then told True). Subscribing the same handler twice is a no-op.
        """
        ...

    @standing_interest
    async def unsubscribe(self, channel: str, handler: MessageHandler) -> None:
        """Stop calling ``handler`` for ``channel``; the broker subscription ends with the last handler."""
        ...

    def add_link_listener(self, listener: LinkListener) -> None:
        """Call ``listener(False)`` when subscriptions are lost and ``listener(True)`` when they are restored.

        Synchronous. A link that never breaks (memory) never calls it. Through
        the fallback switch it is registered with both adapters.
        """
        ...

    async def ping(self) -> None:
        """Raise unless the backend can serve calls."""
        ...
