"""The plugin's hooks: ``[redis]`` settings, the Redis adapters, health, and closing the connection."""

from __future__ import annotations

from blacksheep import Application
from dynaconf import Validator

from sheepfold.health import ComponentHealth
from sheepfold.hookspecs import hookimpl
from sheepfold.platform import Platform
from sheepfold.statistics import Statistics
from sheepfold.types import RegisterProvider
from sheepfold_redis.cache import RedisCache
from sheepfold_redis.connection import RedisConnection, trace_commands
from sheepfold_redis.health import RedisMonitor
from sheepfold_redis.pubsub import RedisPubSub
from sheepfold_redis.ratelimit import RedisRateLimiter
from sheepfold_redis.sessions import RedisSessionRecords
from sheepfold_redis.settings import settings_validators
from sheepfold_redis.sharded_pubsub import ShardedRedisPubSub
from sheepfold_redis.state import RedisState


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return settings_validators()


@hookimpl
def sheepfold_register_providers(register: RegisterProvider) -> None:
    register("state", "redis", lambda platform: RedisState(RedisConnection.of(platform)))
    register("cache", "redis", lambda platform: RedisCache(RedisConnection.of(platform)))
    register("ratelimit", "redis", lambda platform: RedisRateLimiter(RedisConnection.of(platform)))
    register(
        "sessions",
        "redis",
        lambda platform: RedisSessionRecords(RedisConnection.of(platform), registry=platform.metrics.registry),
    )
    register("pubsub", "redis", _pubsub)


def _pubsub(platform: Platform) -> RedisPubSub | ShardedRedisPubSub:
    # On a cluster, channels spread over the shards with sharded pub/sub (SSUBSCRIBE, Redis 7).
    connection = RedisConnection.of(platform)
    if connection.is_cluster:
        return ShardedRedisPubSub(connection, tasks=platform.tasks)
    return RedisPubSub(connection, tasks=platform.tasks)


@hookimpl
def sheepfold_startup(app: Application, platform: Platform) -> None:
    # Only when something uses Redis: an installed but unused plugin opens nothing and reports nothing.
    connection = platform.find(RedisConnection)
    if connection is not None and platform.find(RedisMonitor) is None:
        trace_commands(connection, platform.propagation)
        monitor = RedisMonitor(
            connection, platform.metrics.registry, interval=platform.settings.get("redis.metrics_interval")
        )
        platform.provide(RedisMonitor, monitor)
        monitor.start(platform.tasks)


@hookimpl
async def sheepfold_health(platform: Platform) -> ComponentHealth | None:
    monitor = platform.find(RedisMonitor)
    return None if monitor is None else await monitor.measure()


@hookimpl
async def sheepfold_statistics(platform: Platform) -> Statistics | None:
    monitor = platform.find(RedisMonitor)
    return None if monitor is None else await monitor.statistics()


@hookimpl
async def sheepfold_shutdown(app: Application, platform: Platform) -> None:
    monitor = platform.find(RedisMonitor)
    if monitor is not None:
        await monitor.stop()
