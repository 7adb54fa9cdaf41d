"""The cache's recovery step: the deletes and invalidations made during an outage, applied to the backend."""

from __future__ import annotations

import logging

from sheepfold.cache.memory import CacheChanges, CacheJournal, ClearableCache
from sheepfold.cache.port import Cache
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
