"""Building the one redis-py asyncio client from :class:`RedisSettings`: plain URL, Sentinel or Cluster."""

from __future__ import annotations

from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import EqualJitterBackoff

from sheepfold_redis.cluster import QueuingRedisCluster
from sheepfold_redis.pool import FairConnectionPool, FairSentinelConnectionPool
from sheepfold_redis.settings import RedisSettings

#: The client a :class:`~sheepfold_redis.RedisConnection` holds: ``redis.asyncio.Redis`` (a server, or a
#: Sentinel master) or ``redis.asyncio.RedisCluster``.
RedisClient = Redis | RedisCluster
"""What :attr:`RedisConnection.client` is: a ``Redis`` (URL or Sentinel master) or a ``RedisCluster``."""


def _retry(settings: RedisSettings) -> Retry:
    # EqualJitterBackoff: half the exponential delay fixed, half random (jitter), capped.
    # Only connection errors are retried: a timeout means a silent peer, and waiting
    # for it twice would double the time a request is held up.
    backoff = EqualJitterBackoff(cap=settings.retry_backoff_cap, base=settings.retry_backoff_base)
    return Retry(backoff, settings.retry_attempts, supported_errors=(redis_errors.ConnectionError,))


def _connection_options(settings: RedisSettings) -> dict[str, Any]:
    return {
        "socket_connect_timeout": settings.connect_timeout,
        "socket_timeout": settings.command_timeout,
        "health_check_interval": settings.health_check_interval,
        "retry": _retry(settings),
        "decode_responses": False,
    }


def build_client(settings: RedisSettings) -> tuple[RedisClient, Sentinel | None]:
    """The client for ``settings``' topology, and the ``Sentinel`` behind it if any. No I/O happens here."""
    options = _connection_options(settings)
    if settings.topology == "cluster":
        client = QueuingRedisCluster(  # type: ignore[abstract]  # redis-py types cluster classes with a connection_pool they lack
            pool_timeout=settings.pool_timeout,
            startup_nodes=[ClusterNode(host, port) for host, port in settings.cluster_nodes],
            max_connections=settings.pool_size,  # per node
            # One attempt at reaching the cluster: a failed call goes to the fallback switch, which probes.
            cluster_error_retry_attempts=1,
            connection_error_retry_attempts=1,
            retry_on_error=[redis_errors.ConnectionError],  # else redis-py adds TimeoutError to our Retry
            **options,
        )
        return client, None
    if settings.topology == "sentinel":
        sentinel = Sentinel(  # type: ignore[no-untyped-call]  # unannotated in redis-py
            list(settings.sentinel_hosts),
            sentinel_kwargs={
                "socket_connect_timeout": settings.connect_timeout,
                "socket_timeout": settings.command_timeout,
            },
        )
        client = sentinel.master_for(
            settings.sentinel_service_name,
            connection_pool_class=FairSentinelConnectionPool,
            timeout=settings.pool_timeout,
            db=settings.sentinel_db,
            max_connections=settings.pool_size,
            **options,
        )
        return client, sentinel
    pool = FairConnectionPool.from_url(
        settings.url, max_connections=settings.pool_size, timeout=settings.pool_timeout, **options
    )
    return Redis.from_pool(pool), None
