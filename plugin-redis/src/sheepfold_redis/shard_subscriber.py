"""One subscriber connection to one Redis Cluster node: SSUBSCRIBE, SUNSUBSCRIBE, and the messages it pushes.

redis-py 5's asyncio client has no sharded pub/sub (its ``PubSub`` knows
``SUBSCRIBE`` only, and ``RedisCluster`` has no ``pubsub()``), so this is
built on one redis-py ``Connection`` (its handshake, timeouts and parser)
with a reader task of its own. On a connection in subscribed mode Redis
answers commands in the order they were sent, with pushed messages
(``smessage``, and an ``sunsubscribe`` of its own when a slot leaves the
node) in between; so each command sent queues a waiter, and each reply that
is not a push answers the oldest waiter, errors (``MOVED``) included.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from sheepfold.tasks import BackgroundTasks
from sheepfold_redis.pubsub import READ_SLICE

logger = logging.getLogger("sheepfold.redis.pubsub")


@dataclass
class _Waiter:
    """A command sent and not answered yet: its reply kind (``ssubscribe``, ``sunsubscribe``, ``pong``)."""

    kind: str
    channel: bytes | None
    future: asyncio.Future[None]


class ShardSubscriber:
    """The subscriber connection of one cluster node, and the channels subscribed on it.

    ``on_message(name, data)`` gets every ``smessage``; ``on_lost(names)``
    gets the channels this connection no longer receives for a reason of the
    server's: all of them when the connection breaks or falls silent for
    ``dead_after`` seconds (then the subscriber is closed for good), one when
    the node pushes ``sunsubscribe`` because its slot moved. Names are the
    full channel names, as ``bytes``. The reader is a task of ``tasks``.
    """

    def __init__(
        self,
        node: ClusterNode,
        *,
        tasks: BackgroundTasks,
        on_message: Callable[[bytes, bytes], None],
        on_lost: Callable[[ShardSubscriber, set[bytes]], None],
        reply_timeout: float,
        ping_interval: float,
        dead_after: float,
    ) -> None:
        self.node_name: str = node.name
        self._connection = Connection(**{**node.connection_kwargs, "health_check_interval": 0})
        self._tasks = tasks
        self._on_message = on_message
        self._on_lost = on_lost
        self._reply_timeout = reply_timeout
        self._ping_interval = ping_interval
        self._dead_after = dead_after
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._reader: asyncio.Task[None] | None = None
        self.closed = False
        #: Channels subscribed here, confirmed by the node.
        self.channels: set[bytes] = set()

    async def connect(self) -> None:
        """Open the connection and start the reader (redis-py errors when the node cannot be reached)."""
        await self._connection.connect()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        self._reader = self._tasks.spawn(self._read_forever(), name=f"sheepfold-redis-shard-{self.node_name}")

    async def subscribe(self, name: bytes) -> None:
        """SSUBSCRIBE ``name`` and wait for the node's confirmation.

        Raises ``MovedError`` when the node does not serve the channel's slot,
        a redis-py ``ConnectionError``/``TimeoutError`` when it does not answer.
        """
        await self._command("ssubscribe", name)
        self.channels.add(name)

    async def unsubscribe(self, name: bytes) -> None:
        """SUNSUBSCRIBE ``name`` (its messages stop here even if the node answers with an error)."""
        self.channels.discard(name)
        with contextlib.suppress(ResponseError):  # MOVED: the slot left the node, which already dropped it
            await self._command("sunsubscribe", name)

    async def close(self) -> None:
        """Stop the reader and close the connection; waiting commands fail with ``ConnectionError``."""
        self.closed = True
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        self._fail_waiters(RedisConnectionError(f"subscriber connection to {self.node_name} closed"))
        with contextlib.suppress(Exception):
            await self._connection.disconnect()

    async def _command(self, kind: str, name: bytes | None) -> None:
        if self.closed:
            raise RedisConnectionError(f"subscriber connection to {self.node_name} closed")
        waiter = _Waiter(kind, name, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        args = ("PING",) if name is None else (kind.upper(), name)
        await self._connection.send_command(*args)
        try:
            async with asyncio.timeout(self._reply_timeout):
                await asyncio.shield(waiter.future)
        except TimeoutError:
            raise RedisConnectionError(f"{self.node_name} did not answer {args[0]} in time") from None

    async def _read_forever(self) -> None:
        loop = asyncio.get_running_loop()
        last_heard = last_ping = loop.time()
        slice_started = time.monotonic()
        try:
            while not self.closed:
                try:
                    reply = await self._connection.read_response(timeout=self._ping_interval / 2)
                except ResponseError as error:
                    reply = error
                now = loop.time()
                if reply is not None:
                    last_heard = now
                    self._handle(reply)
                    if time.monotonic() - slice_started > READ_SLICE:
                        await asyncio.sleep(0)  # after a slice of buffered messages, let the app run
                        slice_started = time.monotonic()
                elif now - last_heard > self._dead_after:
                    raise RedisConnectionError(f"{self.node_name} was silent for {self._dead_after} s")
                if now - last_ping >= self._ping_interval:
                    last_ping = now
                    self._waiters.append(_Waiter("pong", None, loop.create_future()))
                    await self._connection.send_command("PING")
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.debug("Redis shard subscriber %s lost: %s", self.node_name, error)
            lost, self.channels = self.channels, set()
            self.closed = True
            self._fail_waiters(RedisConnectionError(f"subscriber connection to {self.node_name} lost"))
            with contextlib.suppress(Exception):
                await self._connection.disconnect()
            self._on_lost(self, lost)

    def _handle(self, reply: Any) -> None:
        if isinstance(reply, list) and reply and reply[0] == b"smessage":
            self._on_message(reply[1], reply[2])
            return
        head = self._waiters[0] if self._waiters else None
        if isinstance(reply, list) and reply and reply[0] == b"sunsubscribe" and not _answers(head, reply[1]):
            # Pushed by the node, not an answer: the channel's slot moved elsewhere (resharding, failover).
            if reply[1] in self.channels:
                self.channels.discard(reply[1])
                self._on_lost(self, {reply[1]})
            return
        if head is None:
            raise RedisConnectionError(f"{self.node_name} sent a reply nobody asked for: {reply!r}")
        self._waiters.popleft()
        if not head.future.done():
            if isinstance(reply, Exception):
                head.future.set_exception(reply)
            else:
                head.future.set_result(None)

    def _fail_waiters(self, error: Exception) -> None:
        while self._waiters:
            future = self._waiters.popleft().future
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved here: a ping's waiter has nobody to read it


def _answers(head: _Waiter | None, channel: bytes) -> bool:
    """Whether an ``sunsubscribe`` of ``channel`` answers the oldest command, rather than being pushed."""
    return head is not None and head.kind == "sunsubscribe" and head.channel == channel
