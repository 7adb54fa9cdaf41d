"""Caching: a port with tags, and a cache-aside helper."""

from sheepfold.cache.aside import CacheAside
from sheepfold.cache.port import Cache

__all__ = ["Cache", "CacheAside"]
