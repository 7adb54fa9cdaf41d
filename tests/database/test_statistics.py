"""The database pool's console figures on PostgreSQL: the pool now, waiting callers, busy time, the alert lines."""

from __future__ import annotations

import asyncio

from blacksheep.testing import TestClient

from sheepfold.statistics import gather_statistics
from sheepfold_database import SqlDatabase
from tests.database import routes_for_tests
from tests.database.conftest import running_app


async def test_the_pool_now_waiting_callers_and_busy_seconds_are_reported(pg_settings):
    settings = {**pg_settings, "pool_size": 2, "max_overflow": 1, "monitor": {"interval": 60}}
    async with running_app(settings, routes_for_tests) as app:
        client = TestClient(app)
        database = app.platform.require(SqlDatabase)

        async def section() -> dict:
            return (await gather_statistics(app.platform))["database"]

        idle = await section()
        assert idle["gauges"] == {
            "size": 2,
            "max_overflow": 1,
            "capacity": 3,
            "checked_out": 0,
            "overflow": 0,
            "waiting": 0,
            "use_percent": 0.0,
            "average_use_percent": idle["gauges"]["average_use_percent"],
            "peak_checked_out": idle["gauges"]["peak_checked_out"],
            "warning_percent": 80,
            "error_percent": 95,
        }
        holding = [asyncio.ensure_future(client.get("/db/hold?seconds=0.5")) for _ in range(4)]
        async with asyncio.timeout(10):
            while database.pool.waiting == 0:
                await asyncio.sleep(0.005)
            busy = await section()
            responses = await asyncio.gather(*holding)
        assert [r.status for r in responses] == [200] * 4
        gauges = busy["gauges"]
        assert (gauges["checked_out"], gauges["overflow"], gauges["waiting"]) == (3, 1, 1)
        assert gauges["use_percent"] == 100.0 and gauges["peak_checked_out"] == 3

        after = await section()
        assert after["gauges"]["checked_out"] == 0 and after["gauges"]["waiting"] == 0
        assert after["counters"]["busy_seconds"] > busy["counters"]["busy_seconds"] > idle["counters"]["busy_seconds"]
        assert 0 < after["gauges"]["average_use_percent"] <= 100
