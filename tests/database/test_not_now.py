"""Every "not now" state of the database is a 503 with Retry-After, on ``AsyncSession`` and ``driver_connection()``.

A PostgreSQL of the test's own (tests/support/postgres_server.py) is stopped,
held in start-up (a standby that never reaches consistency answers 57P03),
stopped while a statement runs, and filled to ``max_connections``. States
hard to produce on demand (crash shutdown, 57P02) are raised by a route as
asyncpg raises them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from blacksheep import Response, Router, json
from blacksheep.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sheepfold import PlatformApplication, hookimpl
from sheepfold.database import Database
from tests.database.conftest import running_app
from tests.support.admin import ADMIN_HEADERS
from tests.support.postgres_server import PostgresServer

#: The two roads to the database a handler has; each must answer "not now" alike.
ROADS = ["/session", "/driver"]


class NotNowRoutes:
    """``/session`` and ``/driver`` run one statement each way; ``/driver/raise/{code}`` raises asyncpg's error."""

    name = "not_now_routes"

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Any) -> None:
        database = platform.require(Database)

        async def on_session(session: AsyncSession) -> Response:
            return json({"value": (await session.execute(text("SELECT 1"))).scalar()})

        async def on_driver() -> Response:
            async with database.driver_connection() as connection:
                return json({"value": await connection.fetchval("SELECT 1")})

        async def sleep_on_driver() -> Response:
            async with database.driver_connection() as connection:
                return json({"value": await connection.fetchval("SELECT 1 FROM pg_sleep(5)")})

        async def sleep_on_session(session: AsyncSession) -> Response:
            return json({"value": (await session.execute(text("SELECT 1 FROM pg_sleep(5)"))).scalar()})

        async def raise_on_driver(code: str) -> Response:
            async with database.driver_connection():
                raise asyncpg.PostgresError.new({"C": code, "M": f"fault {code}"})

        router.add_get("/session", on_session)
        router.add_get("/driver", on_driver)
        router.add_get("/session/sleep", sleep_on_session)
        router.add_get("/driver/sleep", sleep_on_driver)
        router.add_get("/driver/raise/{code}", raise_on_driver)


@pytest.fixture
def postgres() -> Any:
    with PostgresServer(max_connections=4) as server:
        yield server


async def app_on(server: PostgresServer, **database: Any) -> AsyncIterator[PlatformApplication]:
    settings = {"url": server.url, "pool_size": 2, "max_overflow": 0, "pre_ping": True, **database}
    async with running_app(settings, NotNowRoutes()) as app:
        yield app


async def assert_not_now(client: TestClient, path: str, reason: str | None) -> None:
    response = await client.get(path)
    assert response.status == 503, (path, response.status, await response.text())
    assert response.headers.get_first(b"Retry-After") == b"1"
    assert response.content_type() == b"application/problem+json"
    if reason is not None:
        metrics = await (await client.get("/metrics", headers=ADMIN_HEADERS)).text()
        assert f'sheepfold_database_unavailable_total{{reason="{reason}"}}' in metrics


async def test_a_stopped_database_is_a_503_on_both_roads(postgres):
    postgres.start()
    async for app in app_on(postgres):
        client = TestClient(app)
        for path in ROADS:
            assert (await client.get(path)).status == 200
        postgres.stop("fast")
        for path in ROADS * 2:  # the pooled connections are found lost, then none can be opened
            await assert_not_now(client, path, None)
        metrics = await (await client.get("/metrics", headers=ADMIN_HEADERS)).text()
        assert 'sheepfold_database_unavailable_total{reason="unreachable"}' in metrics
        assert 'sheepfold_http_requests_total{method="GET",status="500"}' not in metrics
        assert 'sheepfold_http_requests_total{method="GET",status="503"} 4.0' in metrics


async def test_a_database_starting_up_is_a_503_on_both_roads(postgres):
    postgres.start(standby=True)  # stays in start-up: every connection is refused with 57P03
    async for app in app_on(postgres):
        client = TestClient(app)
        for path in ROADS:
            await assert_not_now(client, path, "starting_up")


async def test_a_database_with_no_connection_slot_free_is_a_503_on_both_roads(postgres):
    postgres.start()
    held = [await asyncpg.connect(postgres.dsn) for _ in range(postgres.max_connections)]
    try:
        async for app in app_on(postgres):
            client = TestClient(app)
            for path in ROADS:
                await assert_not_now(client, path, "too_many_connections")
    finally:
        for connection in held:
            await connection.close()


async def test_a_database_shutting_down_under_a_running_statement_is_a_503_on_both_roads(postgres):
    postgres.start()
    async for app in app_on(postgres):
        client = TestClient(app)
        running = [asyncio.ensure_future(client.get(f"{path}/sleep")) for path in ROADS]
        await asyncio.sleep(0.5)
        await asyncio.to_thread(postgres.stop, "fast")  # ends the sessions: "terminating connection"
        for path, response in zip(ROADS, await asyncio.gather(*running), strict=True):
            assert response.status == 503, (path, await response.text())
            assert response.headers.get_first(b"Retry-After") == b"1"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("57P01", "shutting_down"),
        ("57P02", "shutting_down"),
        ("57P03", "starting_up"),
        ("53300", "too_many_connections"),
    ],
)
async def test_each_not_now_sqlstate_raised_inside_driver_connection_is_a_503(postgres, code, reason):
    postgres.start()
    async for app in app_on(postgres):
        await assert_not_now(TestClient(app), f"/driver/raise/{code}", reason)


async def test_an_error_of_the_request_itself_inside_driver_connection_stays_a_500(postgres):
    postgres.start()
    async for app in app_on(postgres):
        assert (await TestClient(app).get("/driver/raise/42601")).status == 500  # a syntax error: a bug
