"""QueryCache on the memory cache and on a real Redis: one query per cold key under a burst, results dropped when
a session commits a write to a table they read (on every instance), kept apart per identity, and counted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from blacksheep import Response, Router, json
from blacksheep.contents import JSONContent
from sqlalchemy import event

from sheepfold import Identity, State, hookimpl
from sheepfold.database import Database
from sheepfold.testing import TestApp
from sheepfold_database import MEMORY_URL, Migrations, QueryCache, table_tag
from sheepfold_database import plugin as database_plugin
from sheepfold_example import plugin as example_plugin
from sheepfold_redis import plugin as redis_plugin

GUESTBOOK = "example_guestbook_entries"


class MinePlugin:
    """A route whose result depends on who asks: each caller's own "inbox"."""

    @hookimpl
    def sheepfold_register_routes(self, router: Router) -> None:
        async def mine(identity: Identity, queries: QueryCache) -> Response:
            async def load() -> dict[str, Any]:
                return {"owner": identity.subject}

            return json(await queries.fetch("tests.mine", load, identity=identity, tables=["inbox"]))

        router.add_get("/mine", mine)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[object], dict[str, str]]:
    """Settings, plugins and backends of an app whose cache is in memory, or on the machine's Redis."""
    settings: dict[str, Any] = {"database": {"url": MEMORY_URL}}
    if request.param == "memory":
        return settings, [], {}
    return settings | request.getfixturevalue("redis_settings"), [redis_plugin], {"cache": "redis"}


@pytest.fixture
async def kit(backend, sheepfold_app) -> TestApp:
    settings, plugins, backends = backend
    return await sheepfold_app(settings, [*plugins, database_plugin, example_plugin, MinePlugin()], backends=backends)


@pytest.fixture
def guestbook_reads(kit: TestApp) -> Iterator[list[str]]:
    """The SELECTs the app runs on the guestbook table, as they reach the driver."""
    seen: list[str] = []
    engine = kit.platform.require(Database).engine.sync_engine

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and GUESTBOOK in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


async def sign(kit: TestApp, author: str, message: str) -> None:
    response = await kit.client.post("/example/guestbook", content=JSONContent({"author": author, "message": message}))
    assert response.status == 201


async def listed(kit: TestApp, author: str) -> list[str]:
    response = await kit.client.get(f"/example/guestbook?author={author}")
    assert response.status == 200
    return [entry["message"] for entry in (await response.json())["entries"]]


async def test_a_burst_of_cold_requests_runs_the_query_once(kit, guestbook_reads):
    await sign(kit, "ann", "hello")
    answers = await asyncio.gather(*(listed(kit, "ann") for _ in range(30)))
    assert all(answer == ["hello"] for answer in answers)
    assert len(guestbook_reads) == 1


async def test_a_burst_on_the_helper_shares_one_execution_and_one_failure(kit):
    queries = kit.platform.require(QueryCache)
    runs = 0

    async def slow() -> list[int]:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)
        return [1, 2, 3]

    results = await asyncio.gather(*(queries.fetch("tests.slow", slow, key=[7]) for _ in range(40)))
    assert runs == 1 and all(result == [1, 2, 3] for result in results)

    async def broken() -> None:
        await asyncio.sleep(0.02)
        raise LookupError("no such table")

    failures = await asyncio.gather(*(queries.fetch("tests.broken", broken) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(failure, LookupError) for failure in failures)
    assert await queries.aside.cache.get(QueryCache.key("tests.broken")) is None


async def test_a_new_entry_drops_the_cached_list(kit, guestbook_reads):
    await sign(kit, "ann", "first")
    assert await listed(kit, "ann") == ["first"]
    assert await listed(kit, "ann") == ["first"]
    assert len(guestbook_reads) == 1  # the second read was the cache's
    await sign(kit, "ann", "second")  # the request's session commits: the table's tag is invalidated
    assert await listed(kit, "ann") == ["second", "first"]
    assert len(guestbook_reads) == 2


async def test_a_rolled_back_write_invalidates_nothing(kit, guestbook_reads):
    from sheepfold_example.guestbook import GuestbookEntry

    await sign(kit, "bo", "kept")
    assert await listed(kit, "bo") == ["kept"]
    async with kit.platform.require(Database).sessions() as session:
        session.add(GuestbookEntry(author="bo", message="dropped"))
        await session.flush()
        await session.rollback()
    assert await listed(kit, "bo") == ["kept"]
    assert len(guestbook_reads) == 1


async def test_a_query_that_ran_across_a_write_is_not_stored(kit):
    queries = kit.platform.require(QueryCache)
    started, release = asyncio.Event(), asyncio.Event()

    async def before_the_write() -> str:
        started.set()
        await release.wait()
        return "stale"

    reading = asyncio.create_task(queries.fetch("tests.raced", before_the_write, tables=["t"]))
    await started.wait()
    await queries.invalidate_tables("t")  # a write committed while the query ran
    release.set()
    assert await reading == "stale"  # its caller asked before the write: it may have the old answer
    assert await queries.aside.cache.get(QueryCache.key("tests.raced")) is None  # nobody after it will


async def test_two_identities_never_see_each_others_results(kit):
    alice, bob = await kit.sign_in("alice"), await kit.sign_in("bob")
    admin_alice = await kit.sign_in("alice", roles=["admin"])
    for _ in range(2):  # the second round is served from the cache
        assert await (await kit.client.get("/mine", headers=alice)).json() == {"owner": "alice"}
        assert await (await kit.client.get("/mine", headers=bob)).json() == {"owner": "bob"}
        assert await (await kit.client.get("/mine")).json() == {"owner": None}
        assert await (await kit.client.get("/mine", headers=admin_alice)).json() == {"owner": "alice"}
    keys = {
        QueryCache.key("tests.mine", identity=who)
        for who in (Identity("alice"), Identity("bob"), Identity(), Identity("alice", roles=["admin"]))
    }
    assert len(keys) == 4
    cache = kit.platform.require(QueryCache).aside.cache
    assert await cache.invalidate_tag("user:alice") == 2  # alice's results, with and without the role
    assert await cache.get(QueryCache.key("tests.mine", identity=Identity("bob"))) is not None


async def test_hits_and_misses_are_counted_per_query_name(kit):
    await sign(kit, "cy", "one")
    for _ in range(4):
        await listed(kit, "cy")
    metrics = kit.platform.metrics
    assert metrics.cache_misses.value("query.example.guestbook") == 1
    assert metrics.cache_hits.value("query.example.guestbook") == 3
    text = (await (await kit.client.get("/metrics", headers=await kit.sign_in("op", roles=["admin"]))).text()) or ""
    assert 'sheepfold_cache_hits_total{cache="query.example.guestbook"} 3.0' in text


def test_a_query_name_must_be_a_plain_name():
    with pytest.raises(ValueError, match="lower-case"):
        QueryCache.key("Guestbook:all")
    assert table_tag("users") == "database:table:users"


async def test_a_write_on_one_instance_drops_the_result_cached_on_another(redis_settings, sheepfold_app):
    settings = {"database": {"url": MEMORY_URL}} | redis_settings
    plugins = [redis_plugin, database_plugin, example_plugin]
    apps = [await sheepfold_app(settings, plugins, backends={"cache": "redis"}) for _ in range(2)]
    reader, writer = apps
    queries = reader.platform.require(QueryCache)
    runs = 0

    async def count() -> int:
        nonlocal runs
        runs += 1
        return runs

    assert await queries.fetch("tests.count", count, tables=[GUESTBOOK]) == 1
    assert await queries.fetch("tests.count", count, tables=[GUESTBOOK]) == 1
    await sign(writer, "dee", "elsewhere")  # another instance's session commits to the table
    assert await queries.fetch("tests.count", count, tables=[GUESTBOOK]) == 2


@pytest.mark.parametrize("fleet_lease", [None, 5.0])
async def test_a_burst_on_two_instances_runs_once_per_instance_or_once_with_a_fleet_lease(
    fleet_lease, redis_settings, sheepfold_app
):
    settings = {"database": {"url": MEMORY_URL}} | redis_settings
    backends = {"cache": "redis", "state": "redis"}
    apps = [await sheepfold_app(settings, [redis_plugin, database_plugin], backends=backends) for _ in range(2)]
    runs = 0

    async def costly() -> dict[str, int]:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.2)
        return {"total": 42}

    burst = [
        kit.platform.require(QueryCache).fetch("tests.costly", costly, fleet_lease=fleet_lease)
        for kit in apps
        for _ in range(20)
    ]
    assert all(result == {"total": 42} for result in await asyncio.gather(*burst))
    assert runs == (2 if fleet_lease is None else 1)


async def test_a_waiter_takes_the_lease_holders_result_or_runs_the_query_once_the_lease_ends(
    redis_settings, sheepfold_app
):
    settings = {"database": {"url": MEMORY_URL}} | redis_settings
    kit = await sheepfold_app(settings, [redis_plugin, database_plugin], backends={"cache": "redis", "state": "redis"})
    queries, state = kit.platform.require(QueryCache), kit.platform.require(State)
    runs = 0

    async def query() -> str:
        nonlocal runs
        runs += 1
        return "ran here"

    # Another instance holds the lease and stores its result while this one waits.
    assert await state.compare_and_set(QueryCache.key("tests.held") + ":lease", None, b"1", ttl=5)
    waiting = asyncio.create_task(queries.fetch("tests.held", query, fleet_lease=5))
    await asyncio.sleep(0.1)
    await queries.aside.cache.set(QueryCache.key("tests.held"), b'"from the holder"')
    assert await waiting == "from the holder" and runs == 0
    # Another instance took the lease and died before storing anything: the waiter runs it after the lease.
    assert await state.compare_and_set(QueryCache.key("tests.orphan") + ":lease", None, b"1", ttl=0.3)
    assert await queries.fetch("tests.orphan", query, fleet_lease=0.3) == "ran here" and runs == 1


async def test_on_postgresql_and_redis_a_new_entry_drops_the_cached_lists(pg_settings, redis_settings, sheepfold_app):
    settings = {"database": pg_settings} | redis_settings
    plugins = [redis_plugin, database_plugin, example_plugin]
    kit = await sheepfold_app(settings, plugins, backends={"cache": "redis"})
    await Migrations.of(kit.platform).upgrade()
    await sign(kit, "eve", "first")
    recent = "/example/guestbook/recent"
    assert [entry["message"] for entry in (await (await kit.client.get(recent)).json())["entries"]] == ["first"]
    assert await listed(kit, "eve") == ["first"]
    await sign(kit, "eve", "second")
    assert [entry["message"] for entry in (await (await kit.client.get(recent)).json())["entries"]] == [
        "second",
        "first",
    ]
    assert await listed(kit, "eve") == ["second", "first"]
    assert kit.platform.metrics.cache_misses.value("query.example.guestbook.recent") == 2
