"""A redis-py ``RedisCluster`` whose callers queue for a connection instead of failing at the pool's limit."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any

from redis.asyncio import RedisCluster
from redis.asyncio.cluster import ClusterPipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

# True inside a call that already holds a place (a pipeline retrying a command through the client).
_holding: ContextVar[bool] = ContextVar("sheepfold_redis_cluster_holding", default=False)


class QueuingRedisCluster(RedisCluster):
    """``RedisCluster`` with at most ``max_connections`` calls in flight; later callers wait, in order.

    redis-py's cluster raises ``MaxConnectionsError`` at once when a node's
    ``max_connections`` are busy, which the fallback switch would take for an
    outage under a burst. Here a command or pipeline first takes one of
    ``max_connections`` places (an asyncio semaphore, first come, first
    served), waiting at most ``pool_timeout`` seconds, so no node ever needs
    more than ``max_connections`` connections.
    """

    def __init__(self, *, pool_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._places = asyncio.Semaphore(kwargs["max_connections"])
        self._pool_timeout = pool_timeout

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if _holding.get():
            return await super().execute_command(*args, **kwargs)
        await self._take_place()
        token = _holding.set(True)
        try:
            return await super().execute_command(*args, **kwargs)
        finally:
            _holding.reset(token)
            self._places.release()

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        if transaction or shard_hint:
            raise RedisClusterException("a cluster pipeline supports neither transactions nor shard hints")
        return _QueuingClusterPipeline(self)  # type: ignore[abstract]  # redis-py types cluster classes with a connection_pool they lack

    async def _take_place(self) -> None:
        """Wait (first come, first served) for one of the ``max_connections`` places in flight."""
        if not self._places.locked():
            await self._places.acquire()
            return
        try:
            async with asyncio.timeout(self._pool_timeout):
                await self._places.acquire()
        except TimeoutError:
            raise RedisConnectionError("No connection available.") from None

    def _release_place(self) -> None:
        self._places.release()


class _QueuingClusterPipeline(ClusterPipeline):
    def __init__(self, client: QueuingRedisCluster) -> None:
        super().__init__(client)
        # Kept here rather than read from ClusterPipeline's private ``_client``.
        self.queuing_client = client

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> list[Any]:
        client = self.queuing_client
        if _holding.get():
            return await super().execute(raise_on_error, allow_redirections)
        await client._take_place()
        token = _holding.set(True)
        try:
            return await super().execute(raise_on_error, allow_redirections)
        finally:
            _holding.reset(token)
            client._release_place()
