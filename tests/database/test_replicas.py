"""Read replicas against a real PostgreSQL streaming replica: routing, read-your-writes, lag, a replica stopped.

One primary and one replica (``pg_basebackup -R``) of the module's own, on
spare loopback ports (tests/support/postgres_server.py), serve every test
here; each test builds its apps on them. The replica is checked every 0.1 s
with ``max_lag`` 0.5 s, so a test sees a replica leave and return quickly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from blacksheep import Response, Router, json
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sheepfold import hookimpl
from sheepfold.testing import TestApp, identity_header, spare_port, started_app
from sheepfold_database import ReadOnlySession, ReadRouter, ReplicaSet, ReplicaWatch, SqlDatabase
from sheepfold_database import plugin as database_plugin
from tests.support.admin import ADMIN_HEADERS
from tests.support.postgres_server import PostgresServer

REPLICA = "replica"  # the replica's name in settings, metrics and /health
WHERE = text("SELECT CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END")


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str]


class ReplicaRoutes:
    """Routes that say which server answered each read."""

    name = "replica_routes"

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Any) -> None:
        async def where(session: ReadOnlySession) -> Response:
            return json({"server": await session.scalar(WHERE)})

        async def write(session: AsyncSession) -> Response:
            body = secrets.token_hex(4)
            await session.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": body})
            await session.commit()
            return json({"body": body})

        async def write_then_read(session: AsyncSession, reads: ReadOnlySession) -> Response:
            before = await reads.scalar(WHERE)
            body = secrets.token_hex(4)
            await session.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": body})
            await session.commit()
            found = await reads.scalar(text("SELECT count(*) FROM notes WHERE body = :body"), {"body": body})
            return json({"before": before, "after": await reads.scalar(WHERE), "found": found})

        async def read_twice(reads: ReadOnlySession, pause: float) -> Response:
            first = await reads.scalar(WHERE)
            await asyncio.sleep(pause)
            return json({"first": first, "second": await reads.scalar(WHERE)})

        async def note(reads: ReadOnlySession, note_id: int) -> Response:
            found = await reads.get(Note, note_id)
            return json({"body": found.body if found else None})

        async def where_often(reads: ReadOnlySession) -> Response:
            return json([await reads.scalar(WHERE) for _ in range(11)])  # one more than the N+1 threshold

        router.add_get("/where", where)
        router.add_get("/notes/{note_id}", note)
        router.add_get("/where-often", where_often)
        router.add_post("/write", write)
        router.add_post("/write-then-read", write_then_read)
        router.add_get("/read-twice", read_twice)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PostgresServer, PostgresServer]]:
    """The module's primary (with a table ``notes``) and its streaming replica, both running."""
    with PostgresServer(max_connections=40) as primary:
        primary.start()
        asyncio.run(_execute(primary, "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)"))
        with primary.replica() as replica:
            replica.start()
            # A transaction replayed: its commit time is what the replica's lag is measured from.
            asyncio.run(_execute(primary, "INSERT INTO notes (body) VALUES ('first')"))
            asyncio.run(caught_up(primary, replica))
            yield primary, replica


async def _execute(server: PostgresServer, statement: str) -> Any:
    connection = await asyncpg.connect(server.dsn)
    try:
        return await connection.fetchval(statement)
    finally:
        await connection.close()


async def caught_up(primary: PostgresServer, replica: PostgresServer) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    target = await _execute(primary, "SELECT pg_current_wal_lsn()::text")
    async with asyncio.timeout(10):
        while not await _execute(replica, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
            await asyncio.sleep(0.02)


async def until(condition: Any, what: str, timeout: float = 10.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:g} s: {what}") from None


def database_settings(primary: PostgresServer, replica: PostgresServer, **more: Any) -> dict[str, Any]:
    return {
        "url": primary.url,
        "replicas": [{"url": replica.url, "name": REPLICA}],
        "pool_size": 3,
        "max_overflow": 1,
        "max_lag": 0.5,
        "replica_check_interval": 0.1,
        **more,
    }


@contextlib.asynccontextmanager
async def replica_app(
    servers: tuple[PostgresServer, PostgresServer],
    *plugins: object,
    backends: dict[str, str] | None = None,
    strict: bool = True,
    **settings: Any,
) -> AsyncIterator[TestApp]:
    """An app on the module's pair (and ``plugins``), started once the replica is caught up and in service."""
    primary, replica = servers
    await caught_up(primary, replica)
    database = database_settings(primary, replica, **settings.pop("database", {}))
    every_plugin = [database_plugin, *plugins, ReplicaRoutes()]
    async with started_app({"database": database, **settings}, every_plugin, backends=backends, strict=strict) as kit:
        the_replica = kit.platform.require(ReplicaSet).replicas[0]
        await until(lambda: the_replica.in_service, "the replica in service")
        yield kit


async def server_of(kit: TestApp, headers: dict[str, str] | None = None) -> str:
    response = await kit.client.get("/where", headers=headers)
    assert response.status == 200
    server: str = (await response.json())["server"]
    return server


def reads(kit: TestApp, server: str, reason: str) -> float:
    return (
        kit.platform.metrics.registry.get_sample_value(
            "sheepfold_database_reads_total", {"server": server, "reason": reason}
        )
        or 0.0
    )


async def test_a_read_only_session_reads_the_replica_and_the_requests_session_the_primary(servers):
    async with replica_app(servers) as kit:
        assert await server_of(kit) == "replica"
        assert reads(kit, REPLICA, "replica") == 1
        assert await (await kit.client.get("/notes/1")).json() == {"body": "first"}  # the ORM's get, on the replica
        assert reads(kit, REPLICA, "replica") == 2
        written = await kit.client.post("/write")
        assert written.status == 200
        primary, _ = servers
        body = (await written.json())["body"]
        assert await _execute(primary, f"SELECT count(*) FROM notes WHERE body = '{body}'") == 1


async def test_the_n_plus_one_watch_counts_the_statements_a_replica_runs(servers):
    async with replica_app(servers) as kit:
        assert await (await kit.client.get("/where-often")).json() == ["replica"] * 11
        registry = kit.platform.metrics.registry
        assert registry.get_sample_value("sheepfold_database_n_plus_one_total", {"route": "/where-often"}) == 1


async def test_reads_after_a_write_in_the_same_request_go_to_the_primary_and_see_it(servers):
    async with replica_app(servers) as kit:
        answer = await (await kit.client.post("/write-then-read")).json()
        assert answer == {"before": "replica", "after": "primary", "found": 1}
        assert reads(kit, "primary", "wrote") == 2


@pytest.mark.redis
async def test_a_users_reads_go_to_the_primary_for_the_window_after_their_write_on_any_instance(
    servers, redis_settings
):
    """The marker lives in the State port (Redis here), so another instance honours it; anonymous has none."""
    redis_plugin = pytest.importorskip("sheepfold_redis.plugin", reason="needs sheepfold-redis")
    shared = {"backends": {"state": "redis"}, **redis_settings, "database": {"read_your_writes": 2.0}}
    async with (
        replica_app(servers, redis_plugin, **shared) as writer,
        replica_app(servers, redis_plugin, **shared) as reader,
    ):
        alice, bob = identity_header("alice"), identity_header("bob")
        assert (await writer.client.post("/write", headers=alice)).status == 200
        assert (await writer.client.post("/write")).status == 200  # anonymous
        assert await server_of(reader, alice) == "primary"
        assert reads(reader, "primary", "recent_write") == 1
        await caught_up(*servers)
        assert await server_of(reader, bob) == "replica"
        assert await server_of(reader) == "replica"  # anonymous: read-your-writes within a request only
        async with asyncio.timeout(10):
            while await server_of(reader, alice) != "replica":  # the marker expires with the window
                await asyncio.sleep(0.2)


@pytest.mark.redis
async def test_while_the_state_backend_is_down_every_signed_in_users_reads_go_to_the_primary(servers):
    """A marker cannot be read fleet-wide from a per-instance fallback: reading the primary is what is safe."""
    redis_plugin = pytest.importorskip("sheepfold_redis.plugin", reason="needs sheepfold-redis")
    nothing_there = {"url": f"redis://127.0.0.1:{spare_port()}/0"}
    async with replica_app(
        servers, redis_plugin, backends={"state": "redis"}, strict=False, redis=nothing_there
    ) as kit:
        assert await server_of(kit, identity_header("carol")) == "primary"
        assert reads(kit, "primary", "recent_write") == 1
        assert await server_of(kit) == "replica"  # anonymous: no marker to read


async def test_a_lagging_replica_is_taken_out_its_reads_served_by_the_primary_and_it_returns(servers, caplog):
    _, replica = servers
    caplog.set_level(logging.INFO, "sheepfold.database.replicas")
    async with replica_app(servers) as kit:
        the_replica = kit.platform.require(ReplicaSet).replicas[0]
        await _execute(replica, "SELECT pg_wal_replay_pause()")
        try:
            assert (await kit.client.post("/write")).status == 200  # replay is paused: the replica falls behind
            await until(lambda: not the_replica.in_service, "the lagging replica taken out")
            assert await server_of(kit) == "primary"
            health = await (await kit.client.get("/health", headers=ADMIN_HEADERS)).json()
            shown = health["components"]["database"]
            assert shown["status"] == "degraded"
            assert shown["replicas"][REPLICA]["in_service"] is False
            assert "behind the primary" in shown["replicas"][REPLICA]["reason"]
            assert shown["replicas"][REPLICA]["lag_seconds"] > 0.5
            metrics = kit.platform.metrics.registry
            assert metrics.get_sample_value("sheepfold_database_replica_in_service", {"replica": REPLICA}) == 0
            assert metrics.get_sample_value("sheepfold_database_replica_lag_seconds", {"replica": REPLICA}) > 0.5
            assert (
                metrics.get_sample_value(
                    "sheepfold_database_replica_removals_total", {"replica": REPLICA, "reason": "lagging"}
                )
                == 1
            )
        finally:
            await _execute(replica, "SELECT pg_wal_replay_resume()")
        await until(lambda: the_replica.in_service, "the replica back once caught up")
        assert await server_of(kit) == "replica"
        health = await (await kit.client.get("/health", headers=ADMIN_HEADERS)).json()
        assert health["components"]["database"]["status"] == "ok"
    changes = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "sheepfold.database.replicas"]
    assert [level for level, _ in changes] == ["INFO", "WARNING", "INFO"]  # in at start, out, back: once each
    assert "taken out" in changes[1][1] and "behind the primary" in changes[2][1]


async def test_a_replica_stopped_under_load_loses_no_request_and_returns_when_restarted(servers):
    _, replica = servers
    async with replica_app(servers) as kit:
        the_replica = kit.platform.require(ReplicaSet).replicas[0]
        statuses: list[int] = []
        stop = asyncio.Event()

        async def flow() -> None:
            while not stop.is_set():
                statuses.append((await kit.client.get("/where")).status)

        # A request whose session read the replica before it stopped, and reads again after.
        across = asyncio.ensure_future(kit.client.get("/read-twice", query={"pause": "0.6"}))
        workers = [asyncio.ensure_future(flow()) for _ in range(4)]
        await asyncio.sleep(0.3)
        try:
            replica.stop("fast")
            await until(lambda: not the_replica.in_service, "the stopped replica taken out")
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*workers)
            assert (await (await across).json()) == {"first": "replica", "second": "primary"}
            assert statuses and set(statuses) == {200}, "every read was served, by the primary once the replica left"
            health = await (await kit.client.get("/health", headers=ADMIN_HEADERS)).json()
            shown = health["components"]["database"]["replicas"][REPLICA]
            assert shown["in_service"] is False and shown["reason"].startswith(("down", "a read failed"))
            assert shown["lag_seconds"] is None
            assert reads(kit, "primary", "failed_over") >= 1
            # Sessions that held a connection on each server gave both back, the dead one too.
            assert kit.platform.require(SqlDatabase).figures().checked_out == 0
            assert the_replica.database.figures().checked_out == 0
        finally:
            stop.set()
            replica.start()
        await until(lambda: the_replica.in_service, "the restarted replica back in service")
        assert await server_of(kit) == "replica"


async def test_each_replicas_pool_is_monitored_like_the_primarys(servers, caplog):
    caplog.set_level(logging.WARNING, "sheepfold.database.pool")
    async with replica_app(servers) as kit:
        the_replica = kit.platform.require(ReplicaSet).replicas[0]
        monitor = kit.platform.require(ReplicaWatch).monitors[REPLICA]
        async with contextlib.AsyncExitStack() as held:
            for _ in range(4):  # the whole pool: 3 + 1 overflow
                await held.enter_async_context(the_replica.database.engine.connect())
            monitor.sample()
        assert monitor.alert.name == "ERROR"
        assert f"database replica {REPLICA} pool error" in caplog.text
        health = await (await kit.client.get("/health", headers=ADMIN_HEADERS)).json()
        pool = health["components"]["database"]["replicas"][REPLICA]["pool"]
        assert (pool["size"], pool["max_overflow"], pool["peak_checked_out"]) == (3, 1, 4)
        metrics = kit.platform.metrics.registry
        assert metrics.get_sample_value("sheepfold_database_replica_pool_size", {"replica": REPLICA}) == 3
        assert (
            metrics.get_sample_value(
                "sheepfold_database_replica_pool_alerts_total", {"replica": REPLICA, "level": "error"}
            )
            == 1
        )
        assert metrics.get_sample_value("sheepfold_database_pool_size") == 3  # the primary's, unlabelled as before


async def test_a_read_only_session_cannot_write_on_the_replica_or_on_the_primary(servers):
    async with replica_app(servers) as kit:
        router = kit.platform.require(ReadRouter)
        replica_set = kit.platform.require(ReplicaSet)
        for serving in (True, False):
            if not serving:
                replica_set.take_out(replica_set.replicas[0], "down", "taken out by the test")
            async with router.session() as session:
                assert await session.scalar(WHERE) == ("replica" if serving else "primary")
                with pytest.raises(DBAPIError) as raised:
                    await session.execute(text("INSERT INTO notes (body) VALUES ('no')"))
                assert raised.value.orig.sqlstate == "25006"  # read_only_sql_transaction
