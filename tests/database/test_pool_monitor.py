"""The pool monitor: thresholds, alerts once per change, figures in /health and /metrics, and saturation."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from blacksheep.testing import TestClient
from prometheus_client import CollectorRegistry

from sheepfold_database import PoolAlert, PoolFigures, PoolMonitor, SqlDatabase
from tests.database import routes_for_tests
from tests.database.conftest import running_app
from tests.support.admin import ADMIN_HEADERS

POOL_LOGGER = "sheepfold.database.pool"


@dataclass
class ScriptedPool:
    lifetime_peak_checked_out: int = 0


@dataclass
class ScriptedDatabase:
    """Stands in for SqlDatabase: hands out the figures a test scripts, one per sample."""

    samples: list[PoolFigures]
    pool: ScriptedPool = field(default_factory=ScriptedPool)

    def figures(self, *, reset_peaks: bool = False) -> PoolFigures:
        return self.samples.pop(0)


def figures(checked_out: int, waiting: int = 0) -> PoolFigures:
    # size 15 + overflow 5 = 20: each connection is 5 %
    return PoolFigures(15, 5, checked_out, max(checked_out - 15, 0), waiting, checked_out, waiting)


def monitor_over(*samples: PoolFigures) -> PoolMonitor:
    return PoolMonitor(
        ScriptedDatabase(list(samples)),  # type: ignore[arg-type]
        CollectorRegistry(),
        interval=1,
        warning_percent=80,
        error_percent=95,
    )


def pool_records(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == POOL_LOGGER]


def test_warning_at_80_error_at_95_and_whenever_callers_wait_each_logged_once(caplog):
    caplog.set_level(logging.INFO, logger=POOL_LOGGER)
    monitor = monitor_over(
        figures(10),  # 50 %: nothing to say
        figures(16),  # 80 %: warning
        figures(17),  # 85 %: still the same warning, not repeated
        figures(19),  # 95 %: error
        figures(19),  # still 95 %: not repeated
        figures(20, waiting=3),  # callers wait: a new error, because waiting is worse than 95 %
        figures(20, waiting=1),  # still waiting: not repeated
        figures(5),  # back to normal: said once, at INFO
        figures(4),
    )
    levels = []
    for _ in range(9):
        monitor.sample()
        levels.append(monitor.alert)
    assert levels == [PoolAlert.OK, PoolAlert.WARNING, PoolAlert.WARNING, PoolAlert.ERROR, PoolAlert.ERROR,
                      PoolAlert.ERROR, PoolAlert.ERROR, PoolAlert.OK, PoolAlert.OK]  # fmt: skip
    records = pool_records(caplog)
    assert [level for level, _ in records] == [logging.WARNING, logging.ERROR, logging.ERROR, logging.INFO]
    assert "80 %" in records[0][1] and "95 %" in records[1][1]
    assert "3 caller(s) waited" in records[2][1]
    assert "back to normal" in records[3][1]


async def test_saturating_the_pool_shows_waiting_callers_and_serves_everyone_or_says_pool_timeout(pg_settings, caplog):
    """More concurrent callers than size + overflow: the monitor sees them wait; none hangs."""
    caplog.set_level(logging.INFO, logger=POOL_LOGGER)
    settings = {**pg_settings, "pool_size": 2, "max_overflow": 1, "pool_timeout": 0.6, "monitor": {"interval": 0.05}}
    async with running_app(settings, routes_for_tests) as app:
        client = TestClient(app)
        database = app.platform.require(SqlDatabase)
        # 3 connections for 9 callers each holding one 0.25 s: the first 3 are served at once, the next
        # 3 wait about 0.25 s (served), the last 3 about 0.5 s, close to pool_timeout (served or 503).
        callers = [asyncio.ensure_future(client.get("/db/hold?seconds=0.25")) for _ in range(9)]
        async with asyncio.timeout(10):
            while database.pool.waiting == 0:
                await asyncio.sleep(0.005)
            seen_waiting = database.pool.waiting
            health = await (await client.get("/health", headers=ADMIN_HEADERS)).json()
            responses = await asyncio.gather(*callers)
        assert seen_waiting > 0
        pool = health["components"]["database"]["pool"]
        assert pool["size"] == 2 and pool["max_overflow"] == 1 and pool["checked_out"] == 3 and pool["waiting"] > 0
        assert pool["use_percent"] == 100.0
        statuses = [r.status for r in responses]
        assert set(statuses) <= {200, 503}
        for response in responses:
            if response.status == 503:
                body = await response.json()
                assert body["title"] == "Database pool exhausted" and "within 0.6 s" in body["detail"]
                assert response.headers.get_first(b"retry-after") == b"1"
        assert statuses.count(200) >= 6
        records = pool_records(caplog)
        assert any(level == logging.ERROR and "waited for a connection" in message for level, message in records)
        assert len([1 for level, _ in records if level == logging.ERROR]) <= 2, "alerts are not repeated per sample"
        metrics = (await (await client.get("/metrics", headers=ADMIN_HEADERS)).text()).splitlines()
        assert 'sheepfold_database_pool_alerts_total{level="error"} 1.0' in metrics
        assert "sheepfold_database_pool_peak_checked_out 3.0" in metrics


POOL_GAUGES = ["checked_out", "waiting", "use_percent", "peak_use_percent", "average_use_percent", "peak_checked_out"]


def gauges_of(metrics: str) -> dict[str, float]:
    found = {}
    for line in metrics.splitlines():
        for name in POOL_GAUGES:
            if line.startswith(f"sheepfold_database_pool_{name} "):
                found[name] = float(line.split()[1])
    return found


async def test_health_and_metrics_show_the_same_current_peak_and_average_use(pg_settings):
    settings = {**pg_settings, "pool_size": 2, "max_overflow": 0, "monitor": {"interval": 60, "window": 60}}
    async with running_app(settings, routes_for_tests) as app:
        client = TestClient(app)
        holding = [asyncio.ensure_future(client.get("/db/hold?seconds=0.3")) for _ in range(2)]
        await asyncio.sleep(0.15)
        health = await (await client.get("/health", headers=ADMIN_HEADERS)).json()
        metrics = await (await client.get("/metrics", headers=ADMIN_HEADERS)).text()
        await asyncio.gather(*holding)
        pool = health["components"]["database"]["pool"]
        assert pool["peak_checked_out"] >= 1 and pool["use_percent"] > 0 and 0 < pool["average_use_percent"] <= 100
        assert gauges_of(metrics) == {name: float(pool[name]) for name in POOL_GAUGES}


async def test_degraded_means_sustained_pressure_over_the_window_not_one_busy_sample(pg_settings):
    settings = {**pg_settings, "pool_size": 2, "max_overflow": 0, "monitor": {"interval": 0.05, "window": 0.5}}

    async def database_status(client: TestClient) -> tuple[str, dict]:
        health = await (await client.get("/health", headers=ADMIN_HEADERS)).json()
        component = health["components"]["database"]
        return component["status"], component["pool"]

    async with running_app(settings, routes_for_tests) as app:
        client = TestClient(app)
        await asyncio.sleep(0.6)  # a window of an idle pool
        burst = [asyncio.ensure_future(client.get("/db/hold?seconds=0.05")) for _ in range(2)]
        await asyncio.sleep(0.03)
        status, pool = await database_status(client)
        await asyncio.gather(*burst)
        assert pool["use_percent"] == 100.0 and status == "ok"  # full for a moment: not degraded

        sustained = [asyncio.ensure_future(client.get("/db/hold?seconds=3")) for _ in range(2)]
        async with asyncio.timeout(10):  # a bound for a loaded machine: the window is 0.5 s
            while (await database_status(client))[0] != "degraded":
                await asyncio.sleep(0.05)
        await asyncio.gather(*sustained)
        async with asyncio.timeout(10):
            while (await database_status(client))[0] != "ok":  # the window passes: ok again
                await asyncio.sleep(0.05)


async def test_callers_beyond_the_pool_timeout_get_a_clear_503_and_none_hangs(pg_settings):
    settings = {**pg_settings, "pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2}
    async with running_app(settings, routes_for_tests) as app:
        client = TestClient(app)
        async with asyncio.timeout(10):
            responses = await asyncio.gather(*(client.get("/db/hold?seconds=0.6") for _ in range(4)))
        statuses = sorted(r.status for r in responses)
        assert statuses == [200, 503, 503, 503]
        metrics = await (await client.get("/metrics", headers=ADMIN_HEADERS)).text()
        assert 'sheepfold_database_unavailable_total{reason="pool_timeout"} 3.0' in metrics


async def test_an_in_memory_database_has_one_connection_callers_queue_for_it_and_nothing_alerts(caplog):
    caplog.set_level(logging.INFO, logger=POOL_LOGGER)
    settings = {"url": "sqlite+aiosqlite:///:memory:", "pool_timeout": 5, "monitor": {"interval": 0.01}}
    async with running_app(settings, routes_for_tests) as app:
        client = TestClient(app)
        database = app.platform.require(SqlDatabase)
        callers = [asyncio.ensure_future(client.get("/db/hold?seconds=0.05")) for _ in range(3)]
        async with asyncio.timeout(10):
            while database.pool.waiting == 0:
                await asyncio.sleep(0.001)
            responses = await asyncio.gather(*callers)
        assert [r.status for r in responses] == [200, 200, 200]
        assert database.figures().capacity == 1
        app.platform.require(PoolMonitor).sample()
    assert pool_records(caplog) == []  # one connection is always "100 % used": no alert says anything
