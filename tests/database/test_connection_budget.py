"""The connection budget at start-up: instances x (pool_size + max_overflow + probe) against PostgreSQL's limits."""

from __future__ import annotations

import logging

import asyncpg
from blacksheep.testing import TestClient

from sheepfold.testing import asyncpg_dsn
from tests.database.conftest import running_app
from tests.support.admin import ADMIN_HEADERS


async def server_limits(postgres_url: str) -> tuple[int, int]:
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        maximum = int(await connection.fetchval("SHOW max_connections"))
        reserved = int(await connection.fetchval("SHOW superuser_reserved_connections"))
        reserved += int(
            await connection.fetchval("SELECT coalesce(current_setting('reserved_connections', true), '0')")
        )
        return maximum, reserved
    finally:
        await connection.close()


async def budget_of(app) -> dict:
    health = await (await TestClient(app).get("/health", headers=ADMIN_HEADERS)).json()
    return health["components"]["database"]["connections"]


async def test_pools_beyond_max_connections_warn_at_start_up_naming_the_settings_and_numbers(
    pg_settings, postgres_url, caplog
):
    maximum, reserved = await server_limits(postgres_url)
    per_instance = pg_settings["pool_size"] + pg_settings["max_overflow"] + 3
    instances = (maximum - reserved) // per_instance + 1  # one instance too many
    with caplog.at_level(logging.INFO, logger="sheepfold.database"):
        async with running_app({**pg_settings, "expected_instances": instances}) as app:
            budget = await budget_of(app)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "run out" in r.getMessage()]
    assert len(warnings) == 1
    assert f"{instances} instance(s) x (database.pool_size 3 + database.max_overflow 1 + 3" in warnings[0]
    assert f"= {instances * per_instance} connections, PostgreSQL allows {maximum - reserved}" in warnings[0]
    assert f"max_connections {maximum}" in warnings[0]
    assert budget["exceeded"] is True
    assert budget["needed"] == instances * per_instance
    assert budget["available"] == maximum - reserved
    assert budget["max_connections"] == maximum


async def test_pools_that_fit_do_not_warn_and_count_the_fleets_live_instances(pg_settings, postgres_url, caplog):
    maximum, reserved = await server_limits(postgres_url)
    per_instance = pg_settings["pool_size"] + pg_settings["max_overflow"] + 3
    instances = (maximum - reserved) // per_instance  # exactly as many as fit
    with caplog.at_level(logging.INFO, logger="sheepfold.database"):
        async with running_app({**pg_settings, "expected_instances": instances}) as app:
            budget = await budget_of(app)
        async with running_app(pg_settings) as app:
            alone = await budget_of(app)
    assert not [r for r in caplog.records if r.levelno == logging.WARNING and "run out" in r.getMessage()]
    assert budget["exceeded"] is False and budget["instances"] == instances
    assert alone["instances"] == 1  # the fleet's heartbeat: this instance only


async def test_an_in_memory_database_has_no_budget():
    async with running_app({}) as app:
        health = await (await TestClient(app).get("/health", headers=ADMIN_HEADERS)).json()
    assert "connections" not in health["components"]["database"]
