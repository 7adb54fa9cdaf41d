"""What callers of a Redis pub/sub adapter asked it for: handlers per channel, link listeners, and what they hear."""

from __future__ import annotations

import logging

from sheepfold.pubsub.port import LinkListener, MessageHandler

logger = logging.getLogger("sheepfold.redis.pubsub")


class Subscriptions:
    """The handlers of each channel and the link listeners of one Redis pub/sub adapter; it touches no Redis.

    Both :class:`~sheepfold_redis.pubsub.RedisPubSub` and
    :class:`~sheepfold_redis.sharded_pubsub.ShardedRedisPubSub` keep their
    callers' interests here and differ only in how they hold them in Redis.
    Channel ``c`` is ``<prefix>c`` in Redis. ``linked`` starts as given;
    listeners hear of a loss once, and of the recovery that follows it (the
    first link after start-up restores nothing, so it is not announced).
    """

    def __init__(self, prefix: str, *, linked: bool) -> None:
        self.prefix = prefix
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._listeners: list[LinkListener] = []
        self._announced_loss = False
        #: True while every channel with a handler is subscribed in Redis.
        self.linked = linked
        #: How many times a loss was announced and then every subscription was made again.
        self.reconnects = 0

    def __len__(self) -> int:
        return len(self._handlers)

    def __contains__(self, channel: object) -> bool:
        return channel in self._handlers

    def name(self, channel: str) -> str:
        """The channel's name in Redis."""
        return self.prefix + channel

    def names(self) -> list[str]:
        """The names in Redis of every channel with a handler."""
        return [self.prefix + channel for channel in self._handlers]

    def channel_of(self, name: bytes) -> str:
        """The channel whose name in Redis is ``name``."""
        return name.decode()[len(self.prefix) :]

    def add(self, channel: str, handler: MessageHandler) -> bool:
        """Record ``handler`` for ``channel``; False when it was recorded already (then nothing changed)."""
        handlers = self._handlers.setdefault(channel, [])
        if handler in handlers:
            return False
        handlers.append(handler)
        return True

    def count(self, channel: str) -> int:
        """How many handlers ``channel`` has."""
        return len(self._handlers.get(channel, ()))

    def remove(self, channel: str, handler: MessageHandler) -> bool:
        """Forget ``handler`` for ``channel``; True when it was the last one (the caller unsubscribes in Redis)."""
        handlers = self._handlers.get(channel)
        if handlers is None or handler not in handlers:
            return False
        handlers.remove(handler)
        if handlers:
            return False
        del self._handlers[channel]
        return True

    def clear(self) -> None:
        self._handlers.clear()

    def dispatch(self, name: bytes, data: bytes) -> None:
        """Hand a message Redis delivered on ``name`` to each handler of its channel; a failing one is logged."""
        channel = self.channel_of(name)
        for handler in list(self._handlers.get(channel, ())):
            try:
                handler(channel, data)
            except Exception:
                logger.exception("a pub/sub handler of channel %r failed", channel)

    def add_link_listener(self, listener: LinkListener) -> None:
        self._listeners.append(listener)

    @property
    def lost(self) -> bool:
        """Whether listeners were told the link is down and not yet that it is back."""
        return self._announced_loss

    def set_linked(self, linked: bool) -> None:
        """Record the link's state and tell the listeners when a loss starts or ends (a recovery counts a reconnect)."""
        self.linked = linked
        if linked == (not self._announced_loss):
            return
        self._announced_loss = not linked
        if linked:
            self.reconnects += 1
        for listener in list(self._listeners):
            try:
                listener(linked)
            except Exception:
                logger.exception("a pub/sub link listener failed")
