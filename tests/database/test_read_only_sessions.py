"""Read-only sessions without replicas (they read the primary), outside requests, and the weighted pick of a replica."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from blacksheep import Response, Router, json
from blacksheep.testing import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sheepfold import hookimpl
from sheepfold_database import (
    DatabaseSettings,
    ReadOnlySession,
    ReadRouter,
    Replica,
    ReplicaSet,
    ReplicaSettings,
    SqlDatabase,
)
from tests.database.conftest import running_app


class ReadOnlyRoutes:
    name = "read_only_routes"

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Any) -> None:
        async def one(session: ReadOnlySession) -> Response:
            return json({"value": await session.scalar(text("SELECT 1"))})

        router.add_get("/read-only/one", one)


def reads(app: Any, server: str, reason: str) -> float:
    registry = app.platform.metrics.registry
    return registry.get_sample_value("sheepfold_database_reads_total", {"server": server, "reason": reason}) or 0.0


async def test_without_replicas_a_read_only_session_reads_the_primary_and_is_closed_after_the_handler():
    # SQLite in memory: one connection. A session left open would hold it, and the next request would wait.
    async with running_app({}, ReadOnlyRoutes()) as app:
        client = TestClient(app)
        for _ in range(3):
            response = await client.get("/read-only/one")
            assert (response.status, await response.json()) == (200, {"value": 1})
            assert app.platform.require(SqlDatabase).figures().checked_out == 0
        assert reads(app, "primary", "no_replica") == 3


async def test_outside_a_request_a_read_only_session_is_made_by_the_router_and_closed_on_exit():
    async with running_app({}) as app:
        async with app.platform.require(ReadRouter).session() as session:
            assert await session.scalar(text("SELECT 2")) == 2
            assert app.platform.require(SqlDatabase).figures().checked_out == 1
        assert app.platform.require(SqlDatabase).figures().checked_out == 0


def test_replicas_in_service_are_picked_in_proportion_to_their_weights():
    def replica(name: str, weight: float) -> Replica:
        url = make_url(f"postgresql+asyncpg://app@{name}/app")
        return Replica(ReplicaSettings(name, url, weight), SqlDatabase(DatabaseSettings(url=url)))  # no I/O

    light, heavy, out = replica("light", 1), replica("heavy", 3), replica("out", 100)
    replicas = ReplicaSet([light, heavy, out], CollectorRegistry())
    assert replicas.pick() is None  # none checked yet: none in service
    replicas.put_back(light)
    replicas.put_back(heavy)
    random.seed(19)
    picked = Counter(replicas.pick().name for _ in range(4000))
    assert set(picked) == {"light", "heavy"}
    assert 2.6 < picked["heavy"] / picked["light"] < 3.4
    replicas.take_out(heavy, "lagging", "9 s behind")
    assert {replicas.pick().name for _ in range(50)} == {"light"}
