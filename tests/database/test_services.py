"""The engine and a per-request session reach handlers through BlackSheep's dependency injection."""

from __future__ import annotations

import asyncio

import pytest
from blacksheep.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sheepfold.database import Database
from sheepfold_database import MEMORY_URL, SqlDatabase
from sheepfold_database.middleware import RequestSessionBinder
from tests.database import routes_for_tests
from tests.database.conftest import running_app
from tests.database.routes_for_tests import Author, create_library
from tests.kernel.plugins_for_tests import plugin


@pytest.fixture(params=["sqlite", "postgresql"])
def database_settings(request):
    if request.param == "sqlite":
        return {"url": MEMORY_URL}
    return request.getfixturevalue("pg_settings")


async def test_a_handler_gets_a_session_on_the_apps_engine_and_the_connection_goes_back_after(database_settings):
    async with running_app(database_settings, routes_for_tests) as app:
        database = app.platform.require(Database)
        assert isinstance(database, SqlDatabase)
        assert app.platform.require(AsyncEngine) is database.engine
        assert app.platform.require(async_sessionmaker) is database.sessions
        client = TestClient(app)
        for _ in range(3):
            response = await client.get("/db/one")
            assert response.status == 200
            assert await response.json() == {"value": 1, "same_engine": True}
        assert database.figures().checked_out == 0, "the request's session was closed and its connection returned"


async def test_the_session_is_scoped_to_the_request_one_instance_for_every_parameter():
    async with running_app({"url": MEMORY_URL}, routes_for_tests) as app:
        assert await (await TestClient(app).get("/db/two-sessions")).json() == {"same": True}


class Shelf:
    """A scoped service of a plugin's own that depends on the request's session (rodi builds it)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session


async def test_a_service_built_on_the_session_shares_the_handlers_session_and_it_is_closed():
    seen: list[AsyncSession] = []

    def configure(app, platform):
        app.services.add_scoped(Shelf)

    def routes(router, platform):
        async def shelf_and_session(session: AsyncSession, shelf: Shelf) -> dict:
            seen.append(session)
            return {"same": shelf.session is session}

        router.add_get("/db/shelf", shelf_and_session)

    shelf_plugin = plugin("shelf", sheepfold_configure_app=configure, sheepfold_register_routes=routes)
    async with running_app({"url": MEMORY_URL}, shelf_plugin) as app:
        route = next(route for route in app.router if route.pattern == b"/db/shelf")
        assert any(isinstance(binder, RequestSessionBinder) for binder in route.handler.binders)
        client = TestClient(app)
        assert [await (await client.get("/db/shelf")).json() for _ in range(2)] == [{"same": True}] * 2
        assert seen[0] is not seen[1]
        assert app.platform.require(SqlDatabase).figures().checked_out == 0


async def test_each_concurrent_request_gets_its_own_session(database_settings):
    async with running_app(database_settings, routes_for_tests) as app:
        client = TestClient(app)
        responses = await asyncio.gather(*(client.get("/db/hold?seconds=0.05") for _ in range(3)))
        assert [r.status for r in responses] == [200, 200, 200]
        assert len({(await r.json())["session"] for r in responses}) == 3  # alive at once, so distinct ids
        assert app.platform.require(SqlDatabase).figures().checked_out == 0


async def test_an_uncommitted_session_is_rolled_back_when_the_request_ends(database_settings):
    async with running_app(database_settings, routes_for_tests) as app:
        database = app.platform.require(Database)
        await create_library(database.engine, authors=1)
        response = await TestClient(app).post("/db/uncommitted")
        assert response.status == 200
        async with database.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Author)) == 1


async def test_the_database_port_is_in_the_kernel_and_other_plugins_find_it(database_settings):
    async with running_app(database_settings) as app:
        database = app.platform.find(Database)
        assert isinstance(database, Database)
        await database.ping()
        async with database.sessions() as session:
            assert isinstance(session, AsyncSession)


async def test_a_hot_path_borrows_the_drivers_connection_from_the_same_watched_pool(database_settings):
    async with running_app(database_settings) as app:
        database = app.platform.require(SqlDatabase)
        async with database.driver_connection() as connection:
            assert database.figures().checked_out == 1
            if database.settings.is_postgresql:
                assert await connection.fetchval("SELECT 41 + 1") == 42
            else:
                async with connection.execute("SELECT 41 + 1") as cursor:
                    assert (await cursor.fetchone())[0] == 42
        assert database.figures().checked_out == 0


async def test_a_statement_over_statement_timeout_is_cancelled_by_postgresql_and_answered_503(pg_settings):
    async with running_app({**pg_settings, "statement_timeout": 0.1}, routes_for_tests) as app:
        client = TestClient(app)
        response = await client.get("/db/slow")
        assert response.status == 503
        assert "statement_timeout (0.1 s)" in (await response.json())["detail"]
        assert (await client.get("/db/one")).status == 200  # the connection was not lost
