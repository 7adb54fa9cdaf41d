"""Caching: a port with tags, a cache-aside helper, HTTP response caching and tag invalidation."""

from sheepfold.cache.aside import CacheAside
from sheepfold.cache.port import Cache
from sheepfold.cache.responses import ResponseCache
from sheepfold.cache.tags import (
    entity_tag,
    invalidate_entity,
    invalidate_namespace,
    invalidate_user,
    namespace_tag,
    user_tag,
)

__all__ = [
    "Cache",
    "CacheAside",
    "ResponseCache",
    "entity_tag",
    "invalidate_entity",
    "invalidate_namespace",
    "invalidate_user",
    "namespace_tag",
    "user_tag",
]
