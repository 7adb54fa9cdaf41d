"""The plugin's hooks: ``[redis]`` settings, the Redis adapters, health, and closing the connection."""

from __future__ import annotations

from blacksheep import Application
from dynaconf import Validator

from sheepfold.hookspecs import hookimpl
from sheepfold.platform import Platform
from sheepfold.types import RegisterProvider
from sheepfold_redis.cache import RedisCache
from sheepfold_redis.connection import RedisConnection
from sheepfold_redis.settings import settings_validators
from sheepfold_redis.state import RedisState


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return settings_validators()


@hookimpl
async def sheepfold_shutdown(app: Application, platform: Platform) -> None:
    connection = platform.find(RedisConnection)
    if connection is not None:
        await connection.close()


@hookimpl
def sheepfold_register_providers(register: RegisterProvider) -> None:
    register("state", "redis", lambda platform: RedisState(RedisConnection.of(platform)))
    register("cache", "redis", lambda platform: RedisCache(RedisConnection.of(platform)))
