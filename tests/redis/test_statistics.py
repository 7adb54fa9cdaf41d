"""Redis's console figures: latency and pool from the monitor's last measurement; down when Redis is gone."""

from __future__ import annotations

import asyncio

import pytest

from sheepfold import State
from sheepfold.statistics import gather_statistics
from sheepfold_redis.health import RedisMonitor
from tests.redis.conftest import redis_backed, running_app
from tests.support.redis_server import RedisServer


async def redis_section(app) -> dict:
    return (await gather_statistics(app.platform))["redis"]


def readings_measuring(monitor: RedisMonitor, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the measurements a reading makes (the periodic rounds hold the original method)."""
    measured: list[int] = []
    original = monitor.measure

    async def counted():
        measured.append(1)
        return await original()

    monkeypatch.setattr(monitor, "measure", counted)
    return measured


async def test_latency_and_pool_come_from_the_last_measurement_and_redis_down_is_up_0(monkeypatch):
    with RedisServer() as server:
        async with running_app(redis_backed(server.url, redis={"metrics_interval": 0.05})) as app:
            await app.platform.require(State).set("k", b"v")  # opens the shared connection
            monitor = app.platform.require(RedisMonitor)
            async with asyncio.timeout(10):
                while monitor.up is None:  # the first periodic round
                    await asyncio.sleep(0.01)
            measured = readings_measuring(monitor, monkeypatch)
            gauges = (await redis_section(app))["gauges"]
            assert measured == []  # read from the periodic measurement: nothing sent to Redis
            assert gauges["up"] == 1 and gauges["latency_ms"] > 0 and gauges["measured_seconds_ago"] >= 0
            assert gauges["pool_size"] == 20 and gauges["pool_in_use"] == 0
            assert gauges["multiplexed_waiting"] == 0

            server.kill()
            async with asyncio.timeout(10):
                while (await redis_section(app))["gauges"]["up"] != 0:
                    await asyncio.sleep(0.05)


async def test_without_periodic_measurements_each_reading_measures(redis_url, monkeypatch):
    async with running_app(redis_backed(redis_url, redis={"metrics_interval": 0})) as app:
        measured = readings_measuring(app.platform.require(RedisMonitor), monkeypatch)
        first = (await redis_section(app))["gauges"]
        second = (await redis_section(app))["gauges"]
        assert measured == [1, 1]
        assert first["up"] == second["up"] == 1 and second["latency_ms"] > 0
