"""The Redis that arq's workers use: the platform's shared connections, on one server or a Cluster."""

from __future__ import annotations

from typing import Any, cast

from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool, RedisCluster
from redis.asyncio.cluster import ClusterPipeline

from sheepfold_redis import RedisConnection


def arq_redis(connection: RedisConnection) -> ArqRedis:
    """What arq's workers use as their Redis, on the platform's shared connections: none of its own.

    On one server (URL or Sentinel) an ``ArqRedis`` (a ``redis.asyncio.Redis``
    subclass) built on the shared pool, which borrows its connections (with
    their timeouts, retries and bound) and never closes it. On a Cluster, the
    shared ``RedisCluster`` as :class:`ArqOnCluster` presents it.
    """
    client = connection.client
    if isinstance(client, RedisCluster):
        # Typed as what arq asks for; it answers what arq's worker calls on it (see ArqOnCluster).
        return cast(ArqRedis, ArqOnCluster(client))
    # redis-py declares connection_pool for sync and async clients alike; an asyncio Redis holds an asyncio pool.
    return ArqRedis(cast(ConnectionPool, client.connection_pool))


class ArqOnCluster:
    """The shared ``RedisCluster`` as the pool of arq's worker: every command as the cluster client has it.

    arq's worker asks its pool for single commands (``zcard``, ``psetex``,
    ``setex``), which the cluster client routes, and for one transaction per
    job, when it starts the job (GET the job, INCR and EXPIRE its retry
    counter). A cluster client has no transactions, so that one is a plain
    pipeline: its keys are the job's, in its queue's slot, so it goes to one
    node in one round trip, and the claim that gave the job to this worker
    already keeps every other worker away from it. (sheepfold's workers tell
    arq nothing of aborts, so arq's own ``arq:abort`` set, in a slot of its
    own, is never in it.)
    """

    def __init__(self, client: RedisCluster) -> None:
        self.client = client

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> ClusterPipeline:
        return self.client.pipeline()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)
