"""Tag names for cached values, and invalidation by user, entity and namespace.

Each helper removes every value carrying one tag, at a cost proportional to
that tag's members (the cache port's contract), never a scan of the cache.
They work for anything cached with these tags: HTTP responses
(:class:`~sheepfold.cache.ResponseCache` adds the user and namespace tags by
itself) and values stored through :class:`~sheepfold.cache.CacheAside`.
"""

from __future__ import annotations

from sheepfold.cache.port import Cache


def user_tag(user: str) -> str:
    """The tag of everything cached for ``user``: ``user:<user>``."""
    return f"user:{user}"


def entity_tag(kind: str, entity_id: str | int) -> str:
    """The tag of everything showing one entity: ``entity_tag("filing", 42)`` is ``filing:42``."""
    return f"{kind}:{entity_id}"


def namespace_tag(namespace: str) -> str:
    """The tag of everything cached in one namespace (a cached route's ``namespace``): ``namespace:<name>``."""
    return f"namespace:{namespace}"


async def invalidate_user(cache: Cache, user: str) -> int:
    """Remove everything cached for ``user`` (after a change to their data, or at logout); returns how many."""
    return await cache.invalidate_tag(user_tag(user))


async def invalidate_entity(cache: Cache, kind: str, entity_id: str | int) -> int:
    """Remove everything tagged with one entity (``"filing", 42``) after it changed; returns how many."""
    return await cache.invalidate_tag(entity_tag(kind, entity_id))


async def invalidate_namespace(cache: Cache, namespace: str) -> int:
    """Remove everything cached in ``namespace`` (a deployment that changes a route's output); returns how many."""
    return await cache.invalidate_tag(namespace_tag(namespace))
