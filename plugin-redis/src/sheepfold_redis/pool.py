"""Bounded redis-py connection pools whose waiters are served first come, first served."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError


class _FairHandOff(ConnectionPool):
    """Waiting for a connection in a ``ConnectionPool`` subclass: FIFO, bounded by ``timeout`` seconds.

    redis-py's ``BlockingConnectionPool`` lets a task that has just released a
    connection take it straight back while others wait, so under more
    concurrent calls than connections some callers starve until their
    timeout, and the fallback switch would take that for an outage (its
    other pools do not wait at all). Here a released connection is handed to
    the longest waiter, and newcomers queue behind waiters. Waiting longer
    than ``timeout`` raises redis-py's ``ConnectionError("No connection available.")``.
    """

    timeout: float
    _waiters: deque[asyncio.Future[AbstractConnection]]

    async def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> AbstractConnection:
        pool: Any = self
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        if self._waiters or not pool.can_get_connection():
            connection = await self._wait_for_release()
        else:
            connection = pool.get_available_connection()
        try:
            await pool.ensure_connection(connection)
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def _wait_for_release(self) -> AbstractConnection:
        waiter: asyncio.Future[AbstractConnection] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.timeout):
                return await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                # Handed a connection just as we timed out or were cancelled: pass it on.
                await self.release(waiter.result())
            else:
                waiter.cancel()
            if isinstance(error, TimeoutError):
                raise RedisConnectionError("No connection available.") from None
            raise

    async def release(self, connection: AbstractConnection) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)  # stays in use: it changes hands
                return
        await super().release(connection)


class FairConnectionPool(_FairHandOff, ConnectionPool):
    """At most ``max_connections`` connections to one server; callers finding none free wait their turn."""

    def __init__(self, *, timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timeout = timeout
        self._waiters = deque()


class FairSentinelConnectionPool(_FairHandOff, SentinelConnectionPool):
    """The same for the master that Sentinel names (``Sentinel.master_for(connection_pool_class=...)``)."""

    def __init__(self, service_name: str, sentinel_manager: Any, *, timeout: float, **kwargs: Any) -> None:
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]  # unannotated in redis-py
        self.timeout = timeout
        self._waiters = deque()
