"""A redis-py ``RedisCluster`` whose callers queue for a node's connection instead of failing at its limit."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any

from redis.asyncio import RedisCluster
from redis.asyncio.cluster import ClusterNode, ClusterPipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

#: Connections per node beyond the callers' places, for what redis-py sends outside a place: the
#: topology refresh (CLUSTER SLOTS) and a command redirected (MOVED, ASK) to a node it was not queued for.
SPARE_CONNECTIONS = 2

#: What a call sees when redis-py closes its connection under it: on a connection error, redis-py's cluster
#: client closes every node's connections (``RedisCluster.aclose``), including those other calls are using,
#: which then fail on the closed socket with these (``_writer`` None, a closed uvloop transport; redis-py
#: issues 3546, 3835). They are re-raised as the ``ConnectionError`` they are, so the fallback switch sees an
#: outage rather than a bug (a 500).
_CLOSED_UNDER_THE_CALL = (AttributeError, RuntimeError, TypeError)

# True inside a call that already holds its places (a pipeline retrying a command through the client).
_holding: ContextVar[bool] = ContextVar("sheepfold_redis_cluster_holding", default=False)


class QueuingRedisCluster(RedisCluster):
    """``RedisCluster`` with at most ``max_connections`` calls in flight per node; later callers wait, in order.

    redis-py's cluster keeps a pool per node, bounded by ``max_connections``,
    and raises ``MaxConnectionsError`` at once when it is busy, which the
    fallback switch would take for an outage under a burst. Here a command
    first takes one of ``max_connections`` places of the node it goes to (an
    asyncio semaphore per node, first come, first served), waiting at most
    ``pool_timeout`` seconds; a pipeline takes one place on each node its
    commands go to. So every node serves up to ``max_connections`` calls at
    once, and a cluster of N primaries N times as many: the bound is per node,
    as redis-py's is. redis-py's own bound is set :data:`SPARE_CONNECTIONS`
    higher, for the connections it opens outside a place.
    """

    def __init__(self, *, pool_timeout: float, max_connections: int, **kwargs: Any) -> None:
        super().__init__(max_connections=max_connections + SPARE_CONNECTIONS, **kwargs)
        self.places_per_node = max_connections
        self._places: dict[str, asyncio.Semaphore] = {}
        self._pool_timeout = pool_timeout

    async def _execute_command(self, target_node: ClusterNode, *args: Any, **kwargs: Any) -> Any:
        # Every command on one node (each of several, for a command sent to all) passes here.
        if _holding.get():
            return await super()._execute_command(target_node, *args, **kwargs)
        places = self._node_places(target_node.name)
        await self._take_place(places)
        token = _holding.set(True)
        try:
            return await super()._execute_command(target_node, *args, **kwargs)
        except _CLOSED_UNDER_THE_CALL as error:
            raise RedisConnectionError(f"connection to {target_node.name} closed under the call: {error!r}") from error
        finally:
            _holding.reset(token)
            places.release()

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        if transaction or shard_hint:
            raise RedisClusterException("a cluster pipeline supports neither transactions nor shard hints")
        return _QueuingClusterPipeline(self)  # type: ignore[abstract]  # redis-py types cluster classes with a connection_pool they lack

    def _node_places(self, node_name: str) -> asyncio.Semaphore:
        places = self._places.get(node_name)
        if places is None:
            places = self._places[node_name] = asyncio.Semaphore(self.places_per_node)
        return places

    async def _take_place(self, places: asyncio.Semaphore) -> None:
        """Wait (first come, first served) for one of a node's places."""
        if not places.locked():
            await places.acquire()
            return
        try:
            async with asyncio.timeout(self._pool_timeout):
                await places.acquire()
        except TimeoutError:
            raise RedisConnectionError("No connection available.") from None

    async def take_places(self, node_names: list[str]) -> list[asyncio.Semaphore]:
        """One place on each named node, taken in name order (two pipelines never wait on each other)."""
        taken: list[asyncio.Semaphore] = []
        try:
            for name in sorted(set(node_names)):
                places = self._node_places(name)
                await self._take_place(places)
                taken.append(places)
        except BaseException:
            for places in taken:
                places.release()
            raise
        return taken


class _QueuingClusterPipeline(ClusterPipeline):
    def __init__(self, client: QueuingRedisCluster) -> None:
        super().__init__(client)
        # Kept here rather than read from ClusterPipeline's private ``_client``.
        self.queuing_client = client

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> list[Any]:
        client = self.queuing_client
        if _holding.get() or not self._command_stack:
            return await super().execute(raise_on_error, allow_redirections)
        await client.initialize()  # a no-op once the slots are known; they are needed to find the nodes
        nodes = [node.name for command in self._command_stack for node in await _target_nodes(client, command)]
        taken = await client.take_places(nodes)
        token = _holding.set(True)
        try:
            return await super().execute(raise_on_error, allow_redirections)
        except _CLOSED_UNDER_THE_CALL as error:
            raise RedisConnectionError(f"a pipeline's connection closed under it: {error!r}") from error
        finally:
            _holding.reset(token)
            for places in taken:
                places.release()


async def _target_nodes(client: QueuingRedisCluster, command: Any) -> list[ClusterNode]:
    """The nodes a queued pipeline command goes to, found as ``ClusterPipeline`` finds them."""
    passed = command.kwargs.get("target_nodes")
    if passed and not client._is_node_flag(passed):
        return client._parse_target_nodes(passed)
    return await client._determine_nodes(*command.args, node_flag=passed)
