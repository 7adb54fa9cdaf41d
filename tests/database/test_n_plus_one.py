"""The N+1 watch: a loop of single-row queries is reported with its route and statement; a JOIN is not."""

from __future__ import annotations

import logging

import pytest
from blacksheep.testing import TestClient

from sheepfold.database import Database
from sheepfold_database import MEMORY_URL, statement_shape
from tests.database import routes_for_tests
from tests.database.conftest import running_app
from tests.database.routes_for_tests import create_library
from tests.support.admin import ADMIN_HEADERS

WATCH_LOGGER = "sheepfold.database.statements"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_settings(request):
    base = {"url": MEMORY_URL} if request.param == "sqlite" else request.getfixturevalue("pg_settings")
    return {**base, "n_plus_one_threshold": 5}


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == WATCH_LOGGER and r.levelno == logging.WARNING]


def n_plus_one_samples(metrics: str) -> list[str]:
    return [line for line in metrics.splitlines() if line.startswith("sheepfold_database_n_plus_one_total")]


async def test_a_loop_of_single_row_queries_is_reported_once_with_route_and_statement(database_settings, caplog):
    caplog.set_level(logging.WARNING, logger=WATCH_LOGGER)
    async with running_app(database_settings, routes_for_tests) as app:
        await create_library(app.platform.require(Database).engine, authors=8)
        client = TestClient(app)
        response = await client.get("/db/authors/one-by-one/loop")
        assert response.status == 200
        assert len(await response.json()) == 8
        [warning] = warnings_of(caplog)  # 8 queries of one shape, over the threshold of 5: one warning
        assert "GET /db/authors/one-by-one/loop" in warning
        assert "route /db/authors/{kind}/loop" in warning
        assert "FROM books" in warning and "WHERE books.author_id = ?" in warning
        await client.get("/db/authors/other/loop")
        samples = n_plus_one_samples(await (await client.get("/metrics", headers=ADMIN_HEADERS)).text())
        assert samples == ['sheepfold_database_n_plus_one_total{route="/db/authors/{kind}/loop"} 2.0']


async def test_the_equivalent_join_is_silent(database_settings, caplog):
    caplog.set_level(logging.WARNING, logger=WATCH_LOGGER)
    async with running_app(database_settings, routes_for_tests) as app:
        await create_library(app.platform.require(Database).engine, authors=8)
        client = TestClient(app)
        joined = await (await client.get("/db/authors/joined")).json()
        looped = await (await client.get("/db/authors/x/loop")).json()
        assert joined == looped  # the same answer, in one statement
        assert len(warnings_of(caplog)) == 1  # the loop's, not the JOIN's
        assert "/db/authors/joined" not in warnings_of(caplog)[0]


async def test_statements_outside_requests_and_a_zero_threshold_are_not_watched(caplog):
    caplog.set_level(logging.WARNING, logger=WATCH_LOGGER)
    async with running_app({"url": MEMORY_URL, "n_plus_one_threshold": 0}, routes_for_tests) as app:
        await create_library(app.platform.require(Database).engine, authors=8)
        assert (await TestClient(app).get("/db/authors/x/loop")).status == 200
    assert warnings_of(caplog) == []


def test_one_shape_covers_every_literal_parameter_and_list_length():
    assert statement_shape("SELECT * FROM t WHERE id = $1") == statement_shape("SELECT * FROM t WHERE id = 42")
    assert statement_shape("SELECT * FROM t WHERE name = 'o''brien'") == "SELECT * FROM t WHERE name = ?"
    assert statement_shape("SELECT * FROM t WHERE id IN (?, ?, ?)") == statement_shape(
        "SELECT * FROM t WHERE id IN ($1, $2)"
    )
