"""The Redis Cluster adapter of the pub/sub port: SPUBLISH, and one SSUBSCRIBE connection per shard in use."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, cast

from redis.exceptions import MovedError

from sheepfold.errors import BackendUnavailable
from sheepfold.pubsub.port import LinkListener, MessageHandler
from sheepfold.tasks import BackgroundTasks
from sheepfold_redis.connection import RedisConnection
from sheepfold_redis.failures import REDIS_FAILURES, unavailable_on_failure
from sheepfold_redis.shard_subscriber import ShardSubscriber
from sheepfold_redis.subscriptions import Subscriptions

logger = logging.getLogger("sheepfold.redis.pubsub")

#: Attempts at placing one channel when its node answers MOVED (the slot map is refreshed between them).
_MOVED_ATTEMPTS = 3


class ShardedRedisPubSub:
    """:class:`~sheepfold.pubsub.PubSub` on Redis Cluster 7 sharded pub/sub; channel ``c`` is ``<namespace>pubsub:c``.

    A channel lives on the shard that serves its name's hash slot, so channels
    spread over the cluster's primaries. ``publish`` is one ``SPUBLISH``
    routed by redis-py's cluster client. Subscriptions go over one
    :class:`~sheepfold_redis.shard_subscriber.ShardSubscriber` per primary
    that serves a subscribed channel (none for a shard without one).

    A channel stops receiving when its subscriber connection breaks (the node
    died: a failover), falls silent for ``dead_after`` seconds, or when the
    node pushes ``SUNSUBSCRIBE`` (its slot moved: a resharding). Then the
    link listeners hear False, and a repair task refreshes the slot map and
    subscribes every lost channel on the node that serves it now, every
    ``retry_interval`` seconds until all are back, and the listeners hear
    True: messages published meanwhile may be missed, never silently. A
    subscribe sent to a node that no longer serves the slot (``MOVED``) is
    sent again after a refresh.
    """

    def __init__(
        self,
        connection: RedisConnection,
        *,
        tasks: BackgroundTasks | None = None,
        retry_interval: float = 0.1,
        ping_interval: float = 1.0,
        dead_after: float = 3.0,
    ) -> None:
        self.connection = connection
        self.tasks = tasks if tasks is not None else BackgroundTasks()
        self.retry_interval = retry_interval
        self.ping_interval = ping_interval
        self.dead_after = dead_after
        self._client: Any = connection.client
        #: The handlers and link listeners, and the link state (``linked``, ``reconnects``).
        self.subscriptions = Subscriptions(connection.key("pubsub", ""), linked=True)
        self._shards: dict[str, ShardSubscriber] = {}
        # Channels whose subscription was lost (or never made) and that the repair task must place.
        self._unplaced: set[str] = set()
        self._needs_repair = asyncio.Event()
        # One change of subscriptions at a time: a channel is never being placed on two nodes at once.
        self._placing = asyncio.Lock()
        self._repairer: asyncio.Task[None] | None = None

    @property
    def channels(self) -> int:
        """How many channels have at least one handler."""
        return len(self.subscriptions)

    @property
    def shards(self) -> dict[str, int]:
        """Channels subscribed per node (``host:port``), for nodes with a subscriber connection."""
        return {name: len(shard.channels) for name, shard in self._shards.items()}

    async def publish(self, channel: str, message: bytes) -> int:
        with unavailable_on_failure():
            return cast(int, await self.connection.execute("SPUBLISH", self.subscriptions.name(channel), message))

    async def subscribe(self, channel: str, handler: MessageHandler) -> None:
        if not self.subscriptions.add(channel, handler) or self.subscriptions.count(channel) > 1:
            return
        try:
            async with self._placing:
                await self._place(channel)
        except BaseException:
            self._lost({channel})  # the interest is kept: the repair task subscribes it when the shard is back
            raise

    async def unsubscribe(self, channel: str, handler: MessageHandler) -> None:
        if not self.subscriptions.remove(channel, handler):
            return
        self._unplaced.discard(channel)
        name = self.subscriptions.name(channel).encode()
        async with self._placing:
            for shard in list(self._shards.values()):
                if name in shard.channels:
                    # A failure here is the connection dying: the repair task places only channels with handlers.
                    with contextlib.suppress(*REDIS_FAILURES):
                        await shard.unsubscribe(name)
                    await self._close_if_idle(shard)

    def add_link_listener(self, listener: LinkListener) -> None:
        self.subscriptions.add_link_listener(listener)

    async def ping(self) -> None:
        await self.connection.ping()

    async def start(self) -> None:
        """Start the repair task; subscriber connections open as channels are subscribed."""
        if self._repairer is None:
            self._repairer = self.tasks.spawn(self._repair_forever(), name="sheepfold-redis-sharded-pubsub")

    async def close(self) -> None:
        """Stop the repair task and close every subscriber connection."""
        if self._repairer is not None:
            self._repairer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._repairer
            self._repairer = None
        shards, self._shards = list(self._shards.values()), {}
        for shard in shards:
            await shard.close()
        self.subscriptions.clear()
        self._unplaced.clear()

    async def _place(self, channel: str) -> None:
        """Subscribe ``channel`` on the node serving its slot (lock held); ``BackendUnavailable`` when it cannot."""
        name = self.subscriptions.name(channel).encode()
        for _attempt in range(_MOVED_ATTEMPTS):
            with unavailable_on_failure():
                await self._client.initialize()  # a no-op once the slot map is known
                node = self._client.get_node_from_key(name)
                shard = await self._shard_of(node)
                try:
                    await shard.subscribe(name)
                except MovedError:
                    await self._close_if_idle(shard)
                    await self._client.nodes_manager.initialize()  # the slot moved: read the map again
                    continue
            self._unplaced.discard(channel)
            return
        raise BackendUnavailable(f"Redis Cluster: the slot of channel {channel!r} kept moving")

    async def _shard_of(self, node: Any) -> ShardSubscriber:
        shard = self._shards.get(node.name)
        if shard is not None and not shard.closed:
            return shard
        shard = ShardSubscriber(
            node,
            tasks=self.tasks,
            on_message=self.subscriptions.dispatch,
            on_lost=self._shard_lost,
            reply_timeout=self.connection.settings.command_timeout * 4 + self.retry_interval,
            ping_interval=self.ping_interval,
            dead_after=self.dead_after,
        )
        await shard.connect()
        self._shards[node.name] = shard
        return shard

    async def _close_if_idle(self, shard: ShardSubscriber) -> None:
        if not shard.channels and self._shards.get(shard.node_name) is shard:
            del self._shards[shard.node_name]
            await shard.close()

    def _shard_lost(self, shard: ShardSubscriber, names: set[bytes]) -> None:
        if shard.closed and self._shards.get(shard.node_name) is shard:
            del self._shards[shard.node_name]
        self._lost({self.subscriptions.channel_of(name) for name in names})

    def _lost(self, channels: set[str]) -> None:
        """Channels that receive nothing now: tell the listeners (once) and wake the repair task."""
        channels = {channel for channel in channels if channel in self.subscriptions}
        if not channels:
            return
        self._unplaced |= channels
        self.subscriptions.set_linked(False)
        self._needs_repair.set()

    async def _repair_forever(self) -> None:
        while True:
            await self._needs_repair.wait()
            self._needs_repair.clear()
            refreshed = False
            while self._unplaced:
                try:
                    async with self._placing:
                        if not refreshed:
                            # The slot map as the cluster sees it now (a promoted replica, a moved slot).
                            with unavailable_on_failure():
                                await self._client.nodes_manager.initialize()
                            refreshed = True
                        for channel in sorted(self._unplaced):
                            await self._place(channel)
                        for shard in list(self._shards.values()):
                            await self._close_if_idle(shard)
                except Exception as error:  # the shard is not back yet: try again
                    logger.debug("Redis sharded pub/sub not placed yet: %s", error)
                    refreshed = False
                    await asyncio.sleep(self.retry_interval)
            self.subscriptions.set_linked(True)
