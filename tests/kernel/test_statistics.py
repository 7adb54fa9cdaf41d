"""``sheepfold_statistics``: every plugin's live figures gathered at once, each isolated from the others."""

from __future__ import annotations

import asyncio

from sheepfold.statistics import Statistics, gather_statistics
from tests.kernel.plugins_for_tests import plugin
from tests.kernel.test_http_api import started


async def test_hook_statistics_gathers_sections_and_isolates_failures():
    def limiter(platform):
        return Statistics(
            "limiter",
            counters={"allowed": 5, "limited": 2},
            gauges={"penalties": 1},
            tables={"most_limited": [{"key": "ip:1.2.3.4", "limited": 2}]},
        )

    async def sockets(platform):
        return Statistics("sockets", gauges={"connected": 3})

    def broken(platform):
        raise RuntimeError("boom")

    async def hanging(platform):
        await asyncio.sleep(30)

    app, _ = await started(
        plugins=[
            plugin("limiter", sheepfold_statistics=limiter),
            plugin("sockets", sheepfold_statistics=sockets),
            plugin("broken", sheepfold_statistics=broken),
            plugin("hanging", sheepfold_statistics=hanging),
            plugin("quiet", sheepfold_statistics=lambda: None),
        ]
    )
    sections = await gather_statistics(app.platform, timeout=0.2)
    assert sections["limiter"] == {
        "counters": {"allowed": 5, "limited": 2},
        "gauges": {"penalties": 1},
        "tables": {"most_limited": [{"key": "ip:1.2.3.4", "limited": 2}]},
    }
    assert sections["sockets"] == {"counters": {}, "gauges": {"connected": 3}, "tables": {}}
    assert sections["broken"] == {"error": "statistics RuntimeError"}
    assert sections["hanging"] == {"error": "statistics timed out"}
    assert "quiet" not in sections
    await app.stop()
