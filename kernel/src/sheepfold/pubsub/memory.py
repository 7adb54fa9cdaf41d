"""The in-memory pub/sub adapter: one process, a bounded number of channels."""

from __future__ import annotations

import asyncio

from sheepfold.errors import SheepfoldError
from sheepfold.pubsub.port import LinkListener, MessageHandler


class PubSubChannelLimit(SheepfoldError):
    """A subscription would take the memory broker past its ``max_channels``."""


class MemoryPubSub:
    """:class:`~sheepfold.pubsub.PubSub` within one process, for at most ``max_channels`` channels.

    Messages are handed to handlers on the next turn of the event loop (as a
    network broker would), in publish order. Nothing is buffered: a message
    with no handler is gone, so memory never grows with traffic. The link
    never breaks, so link listeners are never called.
    """

    def __init__(self, max_channels: int = 10_000) -> None:
        if max_channels < 1:
            raise ValueError("max_channels must be at least 1")
        self.max_channels = max_channels
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._listeners: list[LinkListener] = []

    @property
    def channels(self) -> int:
        """How many channels have at least one handler."""
        return len(self._handlers)

    async def publish(self, channel: str, message: bytes) -> int:
        handlers = self._handlers.get(channel)
        if not handlers:
            return 0
        loop = asyncio.get_running_loop()
        payload = bytes(message)
        for handler in list(handlers):
            loop.call_soon(handler, channel, payload)
        return len(handlers)

    async def subscribe(self, channel: str, handler: MessageHandler) -> None:
        handlers = self._handlers.get(channel)
        if handlers is None:
            if len(self._handlers) >= self.max_channels:
                raise PubSubChannelLimit(f"the memory broker holds at most {self.max_channels} channels")
            handlers = self._handlers[channel] = []
        if handler not in handlers:
            handlers.append(handler)

    async def unsubscribe(self, channel: str, handler: MessageHandler) -> None:
        handlers = self._handlers.get(channel)
        if handlers is None:
            return
        if handler in handlers:
            handlers.remove(handler)
        if not handlers:
            del self._handlers[channel]

    def add_link_listener(self, listener: LinkListener) -> None:
        self._listeners.append(listener)

    async def ping(self) -> None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._handlers.clear()
