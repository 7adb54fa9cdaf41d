"""The cache's recovery: the deletes and invalidations made during an outage applied to the backend, and
what serves the cache meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sheepfold.cache.memory import CacheChanges, CacheJournal, ClearableCache
from sheepfold.cache.port import Cache
from sheepfold.fallback import BACKEND_FAILURES
from sheepfold.recovery import Recovery

logger = logging.getLogger("sheepfold.cache")


async def apply_outage_changes(recovery: Recovery[Cache]) -> None:
    """Delete on the backend every key set or deleted on the fallback, invalidate every tag invalidated there.

    The backend then holds nothing that changed during the outage, and
    everything untouched stays cached (a short outage does not make the cache
    cold). When the journal overflowed, nothing in the backend can be proven
    fresh: the step clears the backend's namespace (``clear()``, if the
    backend offers it; otherwise it fails and the switch stays on the
    fallback). Rounds repeat until the journal is empty; then the fallback is
    emptied and traffic returns to the backend in the same event-loop turn.
    Writes made meanwhile go straight to the backend (:class:`WriteThroughCache`),
    so the journal only shrinks and the rounds end under any write traffic.
    """
    journal = recovery.fallback_as(CacheJournal)
    if journal is None:
        return
    backend = recovery.backend
    applied = 0
    while True:
        changes = journal.changes()
        if changes.overflowed:
            clearable = recovery.backend_as(ClearableCache)
            if clearable is None:
                raise RuntimeError(f"cache journal overflowed and backend {recovery.backend_name!r} cannot clear")
            removed = await clearable.clear()
            journal.forget(changes)
            logger.warning(
                "cache: the outage journal overflowed; cleared %d keys of %r", removed, recovery.backend_name
            )
            continue
        if not changes.keys and not changes.tags:
            journal.clear()
            break
        for key in changes.keys:
            await backend.delete(key)
            journal.forget(CacheChanges([key], [], False))
        for tag in changes.tags:
            await backend.invalidate_tag(tag)
            journal.forget(CacheChanges([], [tag], False))
        applied += len(changes.keys) + len(changes.tags)
    logger.warning("cache: applied %d key change(s) and invalidation(s) onto %r", applied, recovery.backend_name)


def write_through(recovery: Recovery[Cache]) -> Cache:
    """What serves the cache while it recovers (``switch.serve_while_recovering``).

    The fallback alone when it keeps no :class:`CacheJournal` (the recovery
    step then has nothing to apply); otherwise :class:`WriteThroughCache`.
    """
    journal = recovery.fallback_as(CacheJournal)
    if journal is None:
        return recovery.fallback
    return WriteThroughCache(recovery.backend, recovery.fallback, journal)


class WriteThroughCache:
    """:class:`Cache` for the recovering window: reads from the fallback, writes straight to the backend.

    Were writes made on the fallback as during the outage, each would join
    the journal the recovery step is applying, and under steady write traffic
    (a handler that sets a key per request) the step would chase them for
    ever: traffic would never return. Here a write reaches the backend first;
    once it has, the backend is up to date for that key (or tag) whatever the
    outage journaled, so the fallback drops its copy and the journal forgets
    it. The step may still delete such a key afterwards: a miss, never a
    stale value. Reads come from the fallback, which never holds a value
    older than the backend's. When the backend fails a write, the write is
    made on the fallback, journaled, as during the outage (the step then
    fails too and the switch goes back to the fallback); from then on, this
    window forgets nothing, so a write still in flight cannot unjournal it.
    """

    def __init__(self, backend: Cache, fallback: Cache, journal: CacheJournal) -> None:
        self._backend = backend
        self._fallback = fallback
        self._journal = journal
        self._backend_failed = False

    async def get(self, key: str) -> bytes | None:
        return await self._fallback.get(key)

    async def set(self, key: str, value: bytes, ttl: float | None = None, tags: Iterable[str] = ()) -> None:
        tags = list(tags)
        try:
            await self._backend.set(key, value, ttl, tags)
        except BACKEND_FAILURES:
            self._backend_failed = True
            await self._fallback.set(key, value, ttl, tags)
            return
        await self._settled(key=key)

    async def delete(self, key: str) -> bool:
        try:
            deleted = await self._backend.delete(key)
        except BACKEND_FAILURES:
            self._backend_failed = True
            return await self._fallback.delete(key)
        return await self._settled(key=key) > 0 or deleted

    async def invalidate_tag(self, tag: str) -> int:
        try:
            removed = await self._backend.invalidate_tag(tag)
        except BACKEND_FAILURES:
            self._backend_failed = True
            return await self._fallback.invalidate_tag(tag)
        return removed + await self._settled(tag=tag)

    async def ping(self) -> None:
        await self._fallback.ping()

    async def _settled(self, *, key: str | None = None, tag: str | None = None) -> int:
        """The backend took the write of ``key`` (or ``tag``): the fallback drops its copies, unjournaled."""
        dropped = 0
        if key is not None:
            dropped = int(await self._fallback.delete(key))
        if tag is not None:
            dropped = await self._fallback.invalidate_tag(tag)
        if not self._backend_failed:
            self._journal.forget(CacheChanges([key] if key else [], [tag] if tag else [], False))
        return dropped
