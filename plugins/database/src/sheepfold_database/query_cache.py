"""``QueryCache``: a query's result cached through the cache port, tagged by the tables it reads, and dropped
when a session of the platform commits a write to one of them.

The cache port keeps values and tags; the kernel's :class:`~sheepfold.CacheAside`
gives single flight and the hit/miss counts. What this module adds is what a
database needs on top: a key per query *name* and arguments (and per
identity, for results that depend on who asks), a tag per table read, and
invalidation that follows the writes the app's ``AsyncSession`` commits, so a
plugin cannot forget it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.util import await_only

from sheepfold.cache import CacheAside, user_tag
from sheepfold.identity import Identity
from sheepfold.namespace import Namespace
from sheepfold.platform import Platform
from sheepfold.state import State

#: Seconds a result is kept when ``fetch`` is not told: a write through the platform drops it sooner.
DEFAULT_TTL = 60.0
#: Seconds between looks at the cache while another instance holds a query's fleet lease.
LEASE_POLL = 0.02
#: ``session.info`` key of the tables a session's flushes wrote to, invalidated when it commits.
_WRITTEN = "sheepfold_query_cache_written"


def table_tag(table: str) -> str:
    """The cache tag of every query result that read ``table``: ``database:table:<table>``."""
    return f"database:table:{table}"


class QueryCache:
    """Query results in the cache port, by query name and arguments, dropped when a table they read is written.

    Get it in a handler by declaring ``queries: QueryCache``, or with
    ``platform.require(QueryCache)``; it exists when a cache capability is
    enabled (the kernel's memory cache at least). ``fetch`` runs the query
    once per instance for a cold key however many requests ask at once
    (single flight). Across the fleet each instance may run it once: the
    cache port has no lock. With ``fleet_lease=`` seconds, a lease in the
    state port (``compare_and_set``, one ``SET NX`` on Redis) lets one
    instance run it while the others look in the cache for its result
    (every :data:`LEASE_POLL` seconds, for at most the lease, then run it
    themselves). Every ``AsyncSession`` the app makes (``session: AsyncSession``)
    invalidates, once it commits, the tag of every table its flushes wrote
    (``session.add``, changes to loaded objects, ``session.delete``): the
    next ``fetch`` runs the query again, on every instance. Writes that do not
    go through the unit of work (``session.execute(insert(...))``,
    ``update(...)``, ``db.driver_connection()``) call :meth:`invalidate_tables`
    after they commit.

    Look-ups count in ``sheepfold_cache_hits_total`` /
    ``sheepfold_cache_misses_total`` under ``cache="query.<name>"``: the hit
    ratio of each query (operations guide, "Query cache"). Touches the cache
    backend (Redis: one ``GET`` per look-up; one ``SET`` and a call per tag on a
    miss); never the database but through ``query``.
    """

    def __init__(self, aside: CacheAside, state: State | None = None) -> None:
        self.aside = aside
        self.state = state
        # Bumped before every invalidation this instance makes: a query that ran across one does not store
        # what it read (it may predate the write). One counter, not one per tag, so it cannot grow.
        self._invalidations = 0

    @classmethod
    def install(cls, platform: Platform, sessions: async_sessionmaker[AsyncSession]) -> QueryCache | None:
        """Provide the app's ``QueryCache`` and make ``sessions`` invalidate on commit; None without a cache."""
        aside = platform.find(CacheAside)
        if aside is None:
            return None
        queries = cls(aside, platform.find(State))
        queries.track_writes(sessions)
        platform.provide(QueryCache, queries)
        return queries

    def track_writes(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Have every session ``sessions`` makes invalidate the tables it wrote when it commits.

        Events on a subclass of the maker's session class, so other makers
        (and other apps in the process) are untouched; reads never flush, so
        they pay nothing for it.
        """
        base: type[Session] = sessions.kw.get("sync_session_class", Session)
        tracked = type(f"WriteTracked{base.__name__}", (base,), {"__doc__": base.__doc__})
        event.listen(tracked, "after_flush", _note_written_tables)
        event.listen(tracked, "after_commit", self._invalidate_written)
        event.listen(tracked, "after_rollback", _forget_written_tables)
        sessions.configure(sync_session_class=tracked)

    async def fetch(
        self,
        name: str,
        query: Callable[[], Awaitable[Any]],
        *,
        key: Iterable[str | int | float | bool | None] = (),
        tables: Iterable[str] = (),
        tags: Iterable[str] = (),
        identity: Identity | None = None,
        ttl: float | None = DEFAULT_TTL,
        fleet_lease: float | None = None,
    ) -> Any:
        """The cached result of ``query()`` for ``name`` and ``key``, or ``query()``'s, cached for ``ttl`` seconds.

        - ``name``: the query's name (lower-case letters, digits, ``_ . -``;
          ``ValueError`` otherwise), the ``cache`` label of its metrics;
          ``"example.guestbook"``.
        - ``key``: the arguments the result depends on (``[author, limit]``);
          JSON values.
        - ``tables``: the tables the query reads; a committed write to one
          drops the result. ``tags``: further tags (``entity_tag(...)``) to
          drop it by hand.
        - ``identity``: for a result that depends on who asks. It is then kept
          per identity (subject and roles; every anonymous caller shares one),
          so two identities never see each other's result, and tagged with
          :func:`~sheepfold.cache.user_tag` (``invalidate_user`` drops it).
        - ``fleet_lease``: for a query too costly to run once per instance, the
          seconds one instance may take to run it before another runs it too
          (longer than the query takes). Costs a cold key one state call.

        ``query`` returns what JSON can hold (map rows to dicts inside it).
        An exception from it reaches every caller waiting on the same key, and
        nothing is cached.
        """
        cache_key = self.key(name, key, identity)
        tag_list = [*(table_tag(table) for table in tables), *tags]
        if identity is not None and identity.subject is not None:
            tag_list.append(user_tag(identity.subject))
        ran_across_write = False

        state = self.state if fleet_lease is not None else None
        leased = False

        async def run() -> Any:
            nonlocal ran_across_write, leased
            if state is not None and fleet_lease is not None:
                leased = await state.compare_and_set(f"{cache_key}:lease", None, b"1", ttl=fleet_lease)
                if not leased:
                    return await self._wait_for_holder(cache_key, query, fleet_lease)
            before = self._invalidations
            result = await query()
            ran_across_write = self._invalidations != before
            return result

        try:
            result = await self.aside.get_or_compute(cache_key, run, ttl=ttl, tags=tag_list)
        finally:
            if leased and state is not None:
                await state.delete(f"{cache_key}:lease")
        if ran_across_write:
            await self.aside.cache.delete(cache_key)  # it may hold rows from before the write
        return result

    async def _wait_for_holder(self, cache_key: str, query: Callable[[], Awaitable[Any]], lease: float) -> Any:
        """What the lease's holder stores under ``cache_key``; ``query()``'s own result after ``lease`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + lease
        while loop.time() < deadline:
            await asyncio.sleep(LEASE_POLL)
            cached = await self.aside.cache.get(cache_key)
            if cached is not None:
                return json.loads(cached)  # the platform's CacheAside stores JSON
        return await query()

    @staticmethod
    def key(name: str, key: Iterable[Any] = (), identity: Identity | None = None) -> str:
        """The cache key of ``name``'s result for ``key`` and ``identity``: ``query.<name>:<digest>``."""
        if identity is None:
            scope: list[Any] = ["shared"]
        elif identity.subject is None:
            scope = ["anonymous"]
        else:
            scope = ["identity", identity.subject, sorted(identity.roles)]
        # A digest, not the parts joined: no subject or argument holding ":" can make two keys meet.
        arguments = json.dumps([scope, list(key)], separators=(",", ":"), ensure_ascii=False)
        return Namespace(f"query.{name}").key(hashlib.sha256(arguments.encode()).hexdigest()[:32])

    async def invalidate_tables(self, *tables: str) -> int:
        """Drop every cached result that read one of ``tables``; returns how many were dropped."""
        self._invalidations += 1
        removed = 0
        for table in dict.fromkeys(tables):
            removed += await self.aside.cache.invalidate_tag(table_tag(table))
        return removed

    def _invalidate_written(self, session: Session) -> None:
        written = session.info.pop(_WRITTEN, None)
        if written:
            # after_commit runs inside AsyncSession.commit's greenlet: await the cache from here, so the
            # handler's response (and every read after it) finds the stale results gone.
            await_only(self.invalidate_tables(*sorted(written)))


def _note_written_tables(session: Session, _flush: UOWTransaction) -> None:
    written: set[str] = session.info.setdefault(_WRITTEN, set())
    for instance in (*session.new, *session.dirty, *session.deleted):
        written.update(table.name for table in inspect(instance).mapper.tables)


def _forget_written_tables(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
