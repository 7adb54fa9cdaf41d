"""One Redis connection shared by every caller: commands written as they come, replies matched in order.

redis-py's asyncio client takes a connection from its pool for each
command, writes it, waits for the reply and puts the connection back; with
its timeouts, health check and retry wrapper that costs several times the
work of the command itself, and it costs it again for every concurrent
request. Redis answers the commands of one connection in the order they
were sent, so concurrent callers can share one connection instead
(pipelining across callers, as ioredis and redis-rs do): each command is
packed by hiredis and queued, everything queued in one turn of the event
loop leaves in one write, and each reply is handed to the oldest waiting
caller. (Writing each command at once instead, one send per command, saves
the reply a turn of the loop but costs a system call per command: in the
fleet harness at 4,000 requests/s its client p95 was 1.3 to 1.6 times
worse.) A cancelled caller cannot desynchronise the stream: its reply is
read and dropped like any other. When the socket cannot take more (the
transport pauses the protocol), new commands wait for room before they are
queued, so a stalled server costs a bounded buffer, not one that grows with
every caller.

Only single commands whose replies the caller reads raw (``bytes``,
integers, lists; no redis-py response callbacks) go through here, by
:attr:`RedisConnection.execute <sheepfold_redis.RedisConnection>` and
``run_script``: the rate limiter's and the session store's scripts, cache
reads, the state port and ``PUBLISH``. Transactions, pipelines, blocking commands and pub/sub keep using
redis-py's pooled connections. Errors are redis-py's own classes
(``ConnectionError``, ``TimeoutError``, ``ResponseError``,
``NoScriptError``), so adapters handle both paths alike.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, cast

import hiredis
from redis import exceptions as redis_errors
from redis._parsers.base import BaseParser
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection


class _MultiplexedProtocol(asyncio.Protocol):
    """The protocol of one multiplexed connection: a write queue, a reply parser and a FIFO of waiters."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float | None) -> None:
        self._loop = loop
        self._timeout = timeout
        self._reader = hiredis.Reader(protocolError=redis_errors.InvalidResponse, replyError=BaseParser.parse_error)
        #: One future per command sent and not answered yet, oldest first.
        self.waiters: collections.deque[asyncio.Future[Any]] = collections.deque()
        # When each waiter's reply is due (loop time), oldest first; one timer watches the oldest.
        self._deadlines: collections.deque[float] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None
        self._outgoing: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._lost: BaseException | None = None
        self.closed = False
        # Set while the transport takes writes; cleared between pause_writing() and resume_writing().
        self._writable = asyncio.Event()
        self._writable.set()

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # create_connection hands a stream transport

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiters = self.waiters
        deadlines = self._deadlines
        try:
            reply = reader.gets()
            while reply is not False:
                waiter = waiters.popleft()
                if deadlines:
                    deadlines.popleft()
                if not waiter.done():  # a cancelled caller's reply is read and dropped
                    if isinstance(reply, redis_errors.RedisError):
                        waiter.set_exception(reply)
                    else:
                        waiter.set_result(reply)
                reply = reader.gets()
        except (redis_errors.InvalidResponse, IndexError) as error:
            # A reply nobody asked for, or bytes that are not RESP: this stream can no longer be trusted.
            self.abort(redis_errors.ConnectionError(f"Redis stream out of step: {error}"))

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()  # writers waiting for room wake up to find the connection closed
        if self._timer is not None:
            self._timer.cancel()
        self._deadlines.clear()
        error = self._lost or redis_errors.ConnectionError(
            f"Connection to Redis lost: {exc}" if exc else "Connection to Redis closed."
        )
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    # -- callers

    @property
    def paused(self) -> bool:
        """True while the transport's buffer is over its high-water mark: writers wait (:meth:`writable`)."""
        return not self._writable.is_set()

    async def writable(self) -> None:
        """Return when the transport takes writes again, or the connection is lost."""
        await self._writable.wait()

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        """Queue one packed command; the future gets its reply. Writes once per event-loop turn."""
        if self.closed:
            raise redis_errors.ConnectionError("Connection to Redis closed.")
        loop = self._loop
        waiter = loop.create_future()
        self.waiters.append(waiter)
        if self._timeout is not None:
            self._deadlines.append(loop.time() + self._timeout)
            if self._timer is None:
                self._timer = loop.call_at(self._deadlines[0], self._check_deadline)
        if not self._outgoing:
            loop.call_soon(self._flush)
        self._outgoing.append(packed)
        return waiter

    def _check_deadline(self) -> None:
        self._timer = None
        if not self._deadlines or self.closed:
            return
        if self._deadlines[0] <= self._loop.time():
            # A silent server: nothing behind the late reply can arrive either.
            self.abort(redis_errors.TimeoutError("Timeout reading from Redis."))
        else:
            self._timer = self._loop.call_at(self._deadlines[0], self._check_deadline)

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if self._transport is not None and not self.closed:
            self._transport.write(b"".join(outgoing))

    def abort(self, error: BaseException) -> None:
        """Fail every waiting caller with ``error`` and drop the connection."""
        if self._lost is None:
            self._lost = error
        self.closed = True
        if self._transport is not None:
            self._transport.abort()
        else:
            self.connection_lost(None)


class MultiplexedConnection:
    """A lazily opened, self-reconnecting single connection to one Redis server, shared by all callers.

    ``execute(*args)`` sends one command and returns its raw reply (``bytes``,
    ``int``, ``list``, ``None``). The first call connects (``AUTH``,
    ``SELECT`` and ``CLIENT SETNAME`` as the redis-py pool would); after the
    connection drops, the next call connects again. A command with no reply
    after ``command_timeout`` seconds means a silent server: the connection
    is dropped and every waiting caller gets ``TimeoutError``.
    """

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 6379,
        path: str | None = None,
        username: str | None = None,
        password: str | None = None,
        db: int = 0,
        client_name: str | None = None,
        connect_timeout: float | None = None,
        command_timeout: float | None = None,
    ) -> None:
        self._address = (host, port)
        self._path = path
        self._handshake = _handshake(username, password, db, client_name)
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._protocol: _MultiplexedProtocol | None = None
        self._connecting: asyncio.Future[_MultiplexedProtocol] | None = None

    @property
    def connected(self) -> bool:
        """True while the shared connection is open (it opens on the first command)."""
        return self._protocol is not None and not self._protocol.closed

    @property
    def waiting(self) -> int:
        """Commands sent and not answered yet."""
        protocol = self._protocol
        return len(protocol.waiters) if protocol is not None and not protocol.closed else 0

    async def execute(self, *args: Any) -> Any:
        """Send one command (``"EVALSHA", sha, 1, key, now``) and return its raw reply."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connected()
        if protocol.paused:
            await protocol.writable()  # then send() raises ConnectionError if it was lost meanwhile
        return await protocol.send(hiredis.pack_command(args))

    async def aclose(self) -> None:
        """Close the connection; callers still waiting (for a connect too) get ``ConnectionError``.

        A later call connects again.
        """
        connecting, self._connecting = self._connecting, None
        if connecting is not None:
            connecting.cancel()  # else it would finish after the close and leave a connection open
        protocol, self._protocol = self._protocol, None
        if protocol is not None and not protocol.closed:
            protocol.abort(redis_errors.ConnectionError("Connection to Redis closed."))

    async def _connected(self) -> _MultiplexedProtocol:
        # One connection attempt at a time: concurrent callers wait for the same one. It is shielded, so a
        # cancelled caller does not cancel it for the others; it ends even when every caller went away.
        connecting = self._connecting
        if connecting is None:
            connecting = self._connecting = asyncio.ensure_future(self._connect())
        try:
            return await asyncio.shield(connecting)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if connecting.cancelled() and current is not None and not current.cancelling():
                # aclose() cancelled the attempt, not this caller: to the caller the connection was closed,
                # and the switch must see a Redis error, not a cancellation nobody asked for.
                raise redis_errors.ConnectionError("Connection to Redis closed.") from None
            raise

    async def _connect(self) -> _MultiplexedProtocol:
        attempt = asyncio.current_task()
        try:
            protocol = await self._open()
            if self._connecting is not attempt:
                # Closed while connecting, and the attempt got through anyway: it must not outlive the close.
                protocol.abort(redis_errors.ConnectionError("Connection to Redis closed."))
                raise redis_errors.ConnectionError("Connection to Redis closed.")
            self._protocol = protocol
            return protocol
        finally:
            # Forgotten as it ends, whoever still waits on it: a finished attempt kept here would hand its
            # connection, dropped by then, to the first caller after the next drop.
            if self._connecting is attempt:
                self._connecting = None

    async def _open(self) -> _MultiplexedProtocol:
        loop = asyncio.get_running_loop()

        def protocol_factory() -> _MultiplexedProtocol:
            return _MultiplexedProtocol(loop, self._command_timeout)

        try:
            async with asyncio.timeout(self._connect_timeout):
                if self._path is not None:
                    _transport, protocol = await loop.create_unix_connection(protocol_factory, self._path)
                else:
                    _transport, protocol = await loop.create_connection(protocol_factory, *self._address)
        except TimeoutError:
            raise redis_errors.TimeoutError("Timeout connecting to Redis.") from None
        except OSError as error:
            raise redis_errors.ConnectionError(f"Error connecting to Redis: {error}") from None
        try:
            for command in self._handshake:
                await protocol.send(hiredis.pack_command(command))
        except BaseException:
            protocol.abort(redis_errors.ConnectionError("Redis handshake failed."))
            raise
        return protocol


def _handshake(username: str | None, password: str | None, db: int, client_name: str | None) -> list[tuple[Any, ...]]:
    commands: list[tuple[Any, ...]] = []
    if password is not None:
        commands.append(("AUTH", username, password) if username else ("AUTH", password))
    if db:
        commands.append(("SELECT", db))
    if client_name:
        commands.append(("CLIENT", "SETNAME", client_name))
    return commands


def multiplexed_for(client: Any) -> MultiplexedConnection | None:
    """A multiplexed connection to the server of ``client``'s pool, with its options; None where there is none.

    Only a ``Redis`` on a plain TCP or Unix-socket pool qualifies: TLS
    (``rediss://``), Sentinel (the master moves), Cluster (keys live on
    several servers) and test doubles such as fakeredis keep their client.
    """
    if not isinstance(client, Redis):  # a RedisCluster has no single pool
        return None
    pool = client.connection_pool
    # Exactly these classes: their subclasses are TLS, Sentinel's managed connection, fakeredis's.
    if pool.connection_class not in (Connection, UnixDomainSocketConnection):
        return None
    options = pool.connection_kwargs
    return MultiplexedConnection(
        host=options.get("host", "localhost"),
        port=int(options.get("port", 6379)),
        path=options.get("path"),
        username=options.get("username"),
        password=options.get("password"),
        db=int(options.get("db") or 0),
        client_name=options.get("client_name"),
        connect_timeout=options.get("socket_connect_timeout"),
        command_timeout=options.get("socket_timeout"),
    )
