"""The Redis adapter of the pub/sub port: PUBLISH on the shared client, one subscriber connection per instance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any, cast

from sheepfold.errors import BackendUnavailable, SettingsError
from sheepfold.pubsub.port import LinkListener, MessageHandler
from sheepfold.tasks import BackgroundTasks, cancel_requested
from sheepfold_redis.connection import RedisConnection
from sheepfold_redis.failures import REDIS_FAILURES, unavailable_on_failure
from sheepfold_redis.subscriptions import Subscriptions

logger = logging.getLogger("sheepfold.redis.pubsub")

_LINK_CHANNEL = "-link-"
#: Seconds the reader dispatches buffered messages before it lets other tasks run.
READ_SLICE = 0.005


class RedisPubSub:
    """:class:`~sheepfold.pubsub.PubSub` on Redis pub/sub; channel ``c`` is ``<namespace>pubsub:c``.

    ``publish`` is one PUBLISH on the platform's shared client. Subscriptions
    share one connection taken from the shared pool, held by a reader task
    that dispatches messages to handlers. When that connection breaks (Redis
    killed, restarted, silent for ``dead_after`` seconds), the reader tells
    the link listeners False, retries every ``retry_interval`` seconds, and
    once connected again re-subscribes every channel that still has a
    handler, waits for Redis to confirm them all, and tells the listeners
    True. On Redis Cluster the plugin provides
    :class:`~sheepfold_redis.sharded_pubsub.ShardedRedisPubSub` instead
    (sharded pub/sub); this class refuses a cluster connection. The reader
    and its re-subscriptions are tasks of ``tasks`` (``platform.tasks``; a
    private one when None).
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
        if connection.is_cluster:
            raise SettingsError(
                ["pubsub.backend: RedisPubSub is for one server; on Redis Cluster use ShardedRedisPubSub"]
            )
        self.connection = connection
        self.tasks = tasks if tasks is not None else BackgroundTasks()
        self.retry_interval = retry_interval
        self.ping_interval = ping_interval
        self.dead_after = dead_after
        self._client: Any = connection.client
        #: The handlers and link listeners, and the link state (``linked``, ``reconnects``).
        self.subscriptions = Subscriptions(connection.key("pubsub", ""), linked=False)
        self._pubsub: Any = None  # the redis-py PubSub of the live connection, None while down
        # One future per channel named in a SUBSCRIBE sent on the live connection, resolved in order
        # by Redis's confirmations: a confirmation answers the oldest SUBSCRIBE of that channel.
        self._confirmations: dict[bytes, deque[asyncio.Future[None]]] = {}
        self._reader: asyncio.Task[None] | None = None
        # Set by close(): the reader stops on it even if redis-py swallowed the cancellation (it can,
        # when the cancel lands inside one of its read timeouts, and the reader would then reconnect).
        self._closing = False
        self._connected = asyncio.Event()

    @property
    def channels(self) -> int:
        """How many channels have at least one handler."""
        return len(self.subscriptions)

    async def publish(self, channel: str, message: bytes) -> int:
        with unavailable_on_failure():
            return cast(int, await self.connection.execute("PUBLISH", self.subscriptions.name(channel), message))

    async def subscribe(self, channel: str, handler: MessageHandler) -> None:
        if not self.subscriptions.add(channel, handler):
            return
        if self.subscriptions.count(channel) > 1 and self.subscriptions.linked:
            return
        if self._pubsub is None and not self.subscriptions.lost:
            # Just started: give the reader's first connection attempt its time before calling Redis down.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.connection.settings.connect_timeout + self.retry_interval):
                    await self._connected.wait()
        pubsub = self._pubsub
        if pubsub is None:
            raise BackendUnavailable("Redis pub/sub is down; the subscription is made when it is back")
        await self._send_subscribe(pubsub, [self.subscriptions.name(channel)])

    async def unsubscribe(self, channel: str, handler: MessageHandler) -> None:
        if not self.subscriptions.remove(channel, handler):
            return
        pubsub = self._pubsub
        if pubsub is not None:
            # A failure here is the connection dying: the reader re-subscribes only channels with handlers.
            with contextlib.suppress(*REDIS_FAILURES):
                await pubsub.unsubscribe(self.subscriptions.name(channel))

    def add_link_listener(self, listener: LinkListener) -> None:
        self.subscriptions.add_link_listener(listener)

    async def ping(self) -> None:
        await self.connection.ping()

    async def start(self) -> None:
        """Start the reader task; it connects (and reconnects) by itself, so start never waits on Redis."""
        if self._reader is None:
            self._closing = False
            self._reader = self.tasks.spawn(self._read_forever(), name="sheepfold-redis-pubsub")

    async def close(self) -> None:
        """Stop the reader and give the subscriber connection back to the pool."""
        if self._reader is not None:
            self._closing = True
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        self.subscriptions.clear()

    @property
    def _stopping(self) -> bool:
        # Asked to stop, by close() or by a cancellation (the platform's stop) that redis-py may have swallowed.
        return self._closing or cancel_requested()

    async def _send_subscribe(self, pubsub: Any, names: list[str]) -> None:
        """Send SUBSCRIBE for ``names`` and wait until Redis confirmed each (BackendUnavailable when it does not)."""
        loop = asyncio.get_running_loop()
        waiting = []
        for name in names:
            future: asyncio.Future[None] = loop.create_future()
            self._confirmations.setdefault(name.encode(), deque()).append(future)
            waiting.append(future)
        try:
            with unavailable_on_failure():
                await pubsub.subscribe(*names)
            async with asyncio.timeout(self.connection.settings.command_timeout * 4 + self.retry_interval):
                await asyncio.gather(*waiting)
        except TimeoutError:
            raise BackendUnavailable("Redis did not confirm the subscription in time") from None
        finally:
            for future in waiting:
                future.cancel()  # no-op once resolved; an abandoned one is skipped by the reader

    async def _read_forever(self) -> None:
        while not self._stopping:
            try:
                await self._serve_one_connection()
            except asyncio.CancelledError:
                await self._drop_connection()
                raise
            except REDIS_FAILURES as error:
                await self._drop_connection()
                if self.connection.closed:
                    return  # the platform is shutting down and closed the shared connection: not an outage
                self.subscriptions.set_linked(False)
                logger.debug("Redis pub/sub connection lost: %s", error)
            except Exception:
                await self._drop_connection()
                self.subscriptions.set_linked(False)
                logger.exception("Redis pub/sub reader failed; reconnecting")
            if not self._stopping:
                await asyncio.sleep(self.retry_interval)
        await self._drop_connection()  # closing, though the cancellation did not reach this task

    async def _serve_one_connection(self) -> None:
        pubsub = self._client.pubsub()
        loop = asyncio.get_running_loop()
        await pubsub.connect()
        # A channel of the adapter's own stays subscribed, so that redis-py never reads a health-check
        # reply from a caller's task (it does when no channel is subscribed) while the reader reads.
        await pubsub.subscribe(self.subscriptions.name(_LINK_CHANNEL))
        self._pubsub = pubsub
        self._connected.set()
        resubscribed = self.tasks.spawn(self._resubscribe(pubsub), name="sheepfold-redis-pubsub-resubscribe")
        last_heard = last_ping = loop.time()
        slice_started = time.monotonic()  # not loop.time(): uvloop's stands still within one turn of the loop
        try:
            while not self._stopping:
                message = await pubsub.get_message(timeout=self.ping_interval / 2)
                now = loop.time()
                if message is not None:
                    last_heard = now
                    self._dispatch(message)
                    if time.monotonic() - slice_started > READ_SLICE:
                        # Buffered messages are read without suspending: after a slice of them, let the rest
                        # of the app run (yielding after every message would cap a busy reader at one
                        # message per turn of the event loop).
                        await asyncio.sleep(0)
                        slice_started = time.monotonic()
                elif now - last_heard > self.dead_after:
                    raise ConnectionError(f"Redis pub/sub was silent for {self.dead_after} s")
                if resubscribed.done() and (failure := resubscribed.result()) is not None:
                    raise failure
                if now - last_ping >= self.ping_interval:
                    last_ping = now
                    await pubsub.ping()
        finally:
            resubscribed.cancel()
            await asyncio.wait([resubscribed])  # ended before the connection it uses is dropped

    async def _resubscribe(self, pubsub: Any) -> Exception | None:
        """Subscribe every channel with a handler again; the failure is returned for the reader to raise."""
        names = self.subscriptions.names()
        if names:
            try:
                await self._send_subscribe(pubsub, names)
            except Exception as error:
                return error
        self.subscriptions.set_linked(True)
        return None

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "message":
            self.subscriptions.dispatch(message["channel"], message["data"])
        elif kind == "subscribe":
            name = message["channel"]
            pending = self._confirmations.get(name)
            while pending:
                future = pending.popleft()
                if not future.done():
                    future.set_result(None)
                    break
            if pending is not None and not pending:
                del self._confirmations[name]

    async def _drop_connection(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._connected.clear()
        for pending in self._confirmations.values():
            for future in pending:
                if not future.done():
                    future.set_exception(BackendUnavailable("Redis pub/sub connection lost"))
        self._confirmations.clear()
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
