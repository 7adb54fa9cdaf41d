"""sheepfold-redis: the Redis connection shared by every plugin, and Redis adapters of sheepfold's ports.

Plugins that talk to Redis use :class:`RedisConnection` (``RedisConnection.of(platform)``):
its ``client``, its ``key()`` namespace with Cluster hash tags (:func:`tag_text` makes any text one), its ``script()``
for EVALSHA, and :func:`unavailable_on_failure` to report an outage as
:class:`~sheepfold.errors.BackendUnavailable`.
"""

from sheepfold_redis.cache import RedisCache
from sheepfold_redis.client import RedisClient
from sheepfold_redis.connection import PoolUsage, RedisConnection
from sheepfold_redis.failures import REDIS_FAILURES, unavailable_on_failure
from sheepfold_redis.hashtags import tag_text
from sheepfold_redis.health import RedisMonitor
from sheepfold_redis.settings import RedisSettings
from sheepfold_redis.state import RedisState

__all__ = [
    "REDIS_FAILURES",
    "PoolUsage",
    "RedisCache",
    "RedisClient",
    "RedisConnection",
    "RedisMonitor",
    "RedisSettings",
    "RedisState",
    "tag_text",
    "unavailable_on_failure",
]
