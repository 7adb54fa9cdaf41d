"""PostgreSQL going away under a pool: pre-ping keeps dead connections from handlers; /health says down.

The machine's PostgreSQL is shared with other tests, so these tests never stop
it. What a restart does to a pool is two things, and each is reproduced on
its own: every pooled connection's server side dies (here:
``pg_terminate_backend`` on the backends of this app's unique
``application_name``), and for a while no new connection is accepted (here:
a TCP proxy in front of PostgreSQL that resets every connection and stops
listening, then listens again on the same port).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from blacksheep.testing import TestClient

from sheepfold_database import SqlDatabase
from tests.database import routes_for_tests
from tests.database.conftest import asyncpg_dsn, running_app, terminate_backends
from tests.support.admin import ADMIN_HEADERS
from tests.support.fault_proxy import Fault, FaultProxy


async def backends_of(postgres_url: str, application_name: str) -> int:
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", application_name
        )
    finally:
        await connection.close()


async def fill_pool(client: TestClient, connections: int) -> None:
    responses = await asyncio.gather(*(client.get("/db/hold?seconds=0.05") for _ in range(connections)))
    assert {r.status for r in responses} == {200}


async def test_a_connection_lost_in_the_middle_of_a_statement_is_a_503_and_the_next_request_is_served(pg_settings):
    async with running_app(pg_settings, routes_for_tests) as app:
        client = TestClient(app)
        for _ in range(3):
            lost = await client.get("/db/lose-connection")
            assert lost.status == 503 and (await lost.json())["title"] == "Database unavailable"
            assert (await client.get("/db/one")).status == 200


async def test_a_connection_reset_during_a_statement_is_a_503(postgres_url, pg_settings):
    proxy = await RestartingProxy(urlsplit(postgres_url).port or 5432).start()
    try:
        async with running_app({**pg_settings, "url": through(postgres_url, proxy.port)}, routes_for_tests) as app:
            client = TestClient(app)
            slow = asyncio.ensure_future(client.get("/db/slow?seconds=0.5"))
            await asyncio.sleep(0.2)
            await proxy.close()  # the socket is reset while PostgreSQL is still working on the statement
            answer = await slow
            assert answer.status == 503 and (await answer.json())["title"] == "Database unavailable"
            await proxy.start()
            assert (await client.get("/db/one")).status == 200
    finally:
        await proxy.close()


@pytest.mark.parametrize(
    "pre_ping_idle",
    [
        3600.0,  # never pings: the driver's "socket closed" alone keeps dead connections out
        0.0,  # and a round trip on every checkout as well, as SQLAlchemy's pool_pre_ping does
    ],
)
async def test_with_pre_ping_no_handler_meets_a_connection_whose_backend_was_killed(
    postgres_url, pg_settings, application_name, pre_ping_idle
):
    settings = {**pg_settings, "pool_size": 3, "max_overflow": 0, "pre_ping_idle": pre_ping_idle}
    async with running_app(settings, routes_for_tests) as app:
        client = TestClient(app)
        await fill_pool(client, 3)
        assert app.platform.require(SqlDatabase).figures().checked_out == 0
        assert len(await terminate_backends(postgres_url, application_name)) >= 3  # the pool's 3 (and the probe's)
        sequential = [(await client.get("/db/one")).status for _ in range(3)]
        concurrent = [r.status for r in await asyncio.gather(*(client.get("/db/one") for _ in range(6)))]
        assert sequential + concurrent == [200] * 9
        assert await backends_of(postgres_url, application_name) >= 1  # reconnected


async def test_without_pre_ping_the_same_kill_reaches_a_handler(postgres_url, pg_settings, application_name):
    """The control: it is pre-ping, not luck, that keeps the previous test's requests whole."""
    settings = {**pg_settings, "pool_size": 3, "max_overflow": 0, "pre_ping": False}
    async with running_app(settings, routes_for_tests) as app:
        client = TestClient(app)
        await fill_pool(client, 3)
        await terminate_backends(postgres_url, application_name)
        statuses = [(await client.get("/db/one")).status for _ in range(3)]
        assert 503 in statuses, "a dead pooled connection reached a handler: answered 503, not 500"
        assert set(statuses) <= {200, 503}


async def test_backends_killed_while_requests_flow_no_5xx_once_the_kill_is_over(
    postgres_url, pg_settings, application_name
):
    async with running_app({**pg_settings, "pool_size": 3, "max_overflow": 1}, routes_for_tests) as app:
        client = TestClient(app)
        results: list[tuple[float, int]] = []
        stop = asyncio.Event()

        async def flow() -> None:
            while not stop.is_set():
                started = time.monotonic()
                results.append((started, (await client.get("/db/one")).status))

        workers = [asyncio.ensure_future(flow()) for _ in range(4)]
        try:
            for _ in range(3):
                await asyncio.sleep(0.2)
                await terminate_backends(postgres_url, application_name)
            back = time.monotonic()
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            async with asyncio.timeout(10):
                await asyncio.gather(*workers)
        statuses = [status for _, status in results]
        assert set(statuses) <= {200, 503}, "an in-flight query whose backend died is a 503, never a 500"
        after = [status for started, status in results if started > back]
        assert len(after) > 10 and set(after) == {200}


def through(url: str, port: int) -> str:
    """``url`` to 127.0.0.1:``port``, with a password (trust auth ignores it; /health must not show it)."""
    parts = urlsplit(url)
    user = (parts.username or "postgres") + ":pw-never-shown"
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}"))


class RestartingProxy(FaultProxy):
    """The fault proxy, able to listen again on the port it had: a server that went down and came back."""

    async def start(self) -> RestartingProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self


@pytest.mark.parametrize("required", [True, False])
async def test_postgresql_down_then_back_while_requests_flow(postgres_url, pg_settings, required):
    """Down: /health says so (503 when required), requests get 503. Back: no request fails any more."""
    upstream = urlsplit(postgres_url).port or 5432
    async with RestartingProxy(upstream) as proxy:
        settings = {**pg_settings, "url": through(postgres_url, proxy.port), "required": required, "pool_size": 2}
        async with running_app(settings, routes_for_tests) as app:
            client = TestClient(app)
            await fill_pool(client, 2)
            assert (await client.get("/health/ready")).status == 200
            results: list[tuple[float, int]] = []
            stop = asyncio.Event()

            async def flow() -> None:
                while not stop.is_set():
                    started = time.monotonic()
                    results.append((started, (await client.get("/db/one")).status))
                    await asyncio.sleep(0.005)

            workers = [asyncio.ensure_future(flow()) for _ in range(3)]
            try:
                await asyncio.sleep(0.2)
                await proxy.close()  # down: every connection reset, new ones refused
                await asyncio.sleep(0.3)
                ready = await client.get("/health/ready")
                report = await (await client.get("/health", headers=ADMIN_HEADERS)).json()
                database = report["components"]["database"]
                assert database["status"] == "down" and database["required"] is required
                assert "ConnectionRefusedError" in database["error"]
                assert "pw-never-shown" not in str(report) and database["url"].endswith(f"127.0.0.1:{proxy.port}/test")
                if required:
                    assert ready.status == 503 and (await ready.json()) == {"status": "down"}
                else:
                    assert ready.status == 200 and (await ready.json()) == {"status": "degraded"}
                down_at = time.monotonic()

                await proxy.start()  # back, on the same port
                async with asyncio.timeout(10):
                    while (await client.get("/health/ready")).status != 200:
                        await asyncio.sleep(0.05)
                back_at = time.monotonic()
                await asyncio.sleep(0.5)
            finally:
                stop.set()
                async with asyncio.timeout(10):
                    await asyncio.gather(*workers)
        statuses = {status for _, status in results}
        assert statuses <= {200, 503}, "the database being away is a 503, never a 500"
        assert 503 in {status for started, status in results if down_at - 0.3 < started < down_at}
        after = [status for started, status in results if started > back_at]
        assert len(after) > 10 and set(after) == {200}


@pytest.mark.parametrize("pre_ping_idle", [3600.0, 0.0])
async def test_a_database_that_accepts_but_never_answers_is_down_and_requests_do_not_hang(
    postgres_url, pg_settings, pre_ping_idle
):
    upstream = urlsplit(postgres_url).port or 5432
    async with FaultProxy(upstream) as proxy:
        settings = {
            **pg_settings,
            "url": through(postgres_url, proxy.port),
            "health_timeout": 0.3,
            "statement_timeout": 0.5,
            "connect_timeout": 0.5,
            "pre_ping_idle": pre_ping_idle,
        }
        async with running_app(settings, routes_for_tests) as app:
            client = TestClient(app)
            assert (await client.get("/health/ready")).status == 200
            await fill_pool(client, 2)  # pooled connections that will meet the silence
            proxy.mode = Fault.SILENT
            async with asyncio.timeout(5):
                response = await client.get("/health", headers=ADMIN_HEADERS)
            database = (await response.json())["components"]["database"]
            assert response.status == 503 and database["status"] == "down"
            assert database["error"] == "no answer to SELECT 1 within 0.3 s"
            async with asyncio.timeout(5):  # statement_timeout 0.5 s cannot act; the client's limit (+1 s) does
                answer = await client.get("/db/one")
            assert answer.status == 503 and (await answer.json())["title"] == "Database unavailable"
            proxy.mode = Fault.NONE
