"""The rate limiter's console figures: decisions per policy, the keys most often limited, active penalties."""

from __future__ import annotations

import random

import pytest
from blacksheep.testing import TestClient

from sheepfold.statistics import gather_statistics
from sheepfold.testing.isolation import fresh_prefix, remove_redis_prefix
from sheepfold_ratelimit.figures import ActivePenalties, MostLimited
from tests.ratelimit.app_for_tests import limited_app
from tests.ratelimit.test_outage import DownBackendPlugin
from tests.support.plugins import needs

PENALTY = {"base": 30, "factor": 2, "max": 600, "forget_after": 3600}


@pytest.fixture(params=["memory", pytest.param("redis", marks=[pytest.mark.redis, needs("sheepfold_redis")])])
async def served(request):
    settings, plugins = {}, []
    if request.param == "redis":
        from sheepfold_redis import (
            plugin as redis_plugin,
        )  # here: where ratelimit is installed alone, memory still runs

        url, prefix = request.getfixturevalue("redis_url"), fresh_prefix()
        settings = {"redis": {"url": url, "prefix": prefix}, "ratelimit.backend": "redis"}
        plugins = [redis_plugin]
    policies = {"standard": {"limit": "5/minute", "penalty": PENALTY}, "strict": {"limit": "2/minute"}}
    app = limited_app({"policies": policies}, *plugins, **settings)
    await app.start()
    assert app.platform.capabilities["ratelimit"].active_name == request.param
    yield TestClient(app), app.platform
    await app.stop()
    if request.param == "redis":
        await remove_redis_prefix(url, prefix)


async def get(client: TestClient, path: str, count: int, user: str) -> list[int]:
    return [(await client.get(path, headers={"X-User": user})).status for _ in range(count)]


async def test_decisions_most_limited_keys_and_active_penalties_are_reported(served):
    client, platform = served
    assert await get(client, "/open", 7, "ada") == [200] * 5 + [429] * 2  # a breach, then refused while blocked
    assert await get(client, "/strict", 3, "bob") == [200, 200, 429]
    assert await get(client, "/strict", 1, "cy") == [200]

    section = (await gather_statistics(platform))["ratelimit"]

    assert section["counters"] == {
        "penalties_forgotten": 0,
        **{f"decisions.standard.{d}": n for d, n in (("allowed", 5), ("limited", 2), ("open", 0), ("closed", 0))},
        **{f"decisions.strict.{d}": n for d, n in (("allowed", 3), ("limited", 1), ("open", 0), ("closed", 0))},
    }
    # ada is blocked by standard's penalty; strict has no penalty, so bob is not "penalised", only limited.
    assert section["gauges"] == {"active_penalties": 1, "active_penalties.standard": 1}
    assert section["tables"]["most_limited"] == [
        {"policy": "standard", "key": "user:ada", "limited": 2, "error": 0},
        {"policy": "strict", "key": "user:bob", "limited": 1, "error": 0},
    ]


@pytest.mark.parametrize(("on_outage", "decision", "status"), [("open", "open", 200), ("closed", "closed", 503)])
async def test_outage_decisions_are_counted_per_policy(on_outage, decision, status):
    policies = {"standard": {"limit": "5/minute", "on_outage": on_outage}, "strict": {"limit": "2/minute"}}
    app = limited_app({"policies": policies}, DownBackendPlugin(), **{"ratelimit.backend": "down"})
    await app.start()
    try:
        client = TestClient(app)
        assert await get(client, "/open", 3, "ada") == [status] * 3
        counters = (await gather_statistics(app.platform))["ratelimit"]["counters"]
    finally:
        await app.stop()
    assert counters[f"decisions.standard.{decision}"] == 3
    assert counters["decisions.standard.allowed"] == counters["decisions.standard.limited"] == 0


def test_most_limited_keeps_every_heavy_key_among_many_light_ones():
    most = MostLimited(slots=50)
    refusals = [f"heavy-{n}" for n in range(5) for _ in range(200)]  # 1000 refusals of 5 keys
    refusals += [f"light-{n}" for n in range(3000)]  # and 3000 keys refused once each
    random.Random(7).shuffle(refusals)
    for key in refusals:
        most.add("api", key)
    top = most.top(5)
    # Space-Saving guarantees: every key above total/slots (80) is held; true count within [limited - error, limited].
    assert sorted(row["key"] for row in top) == [f"heavy-{n}" for n in range(5)]
    for row in top:
        assert row["limited"] - row["error"] <= 200 <= row["limited"]
    assert len(most.top(100)) == 50  # never more than its slots


def test_active_penalties_end_with_their_block_and_stay_bounded():
    now = [1000.0]
    penalties = ActivePenalties(max_keys=3, clock=lambda: now[0])
    penalties.blocked("login", "ip:a", 30)
    penalties.blocked("login", "ip:b", 60)
    penalties.blocked("api", "ip:a", 10)
    penalties.blocked("login", "ip:a", 30)  # renewed: still one block
    assert penalties.active() == {"login": 2, "api": 1}
    now[0] += 31
    assert penalties.active() == {"login": 1}
    for n in range(5):
        penalties.blocked("login", f"ip:{n}", 60)
    assert penalties.active() == {"login": 3}
    assert penalties.forgotten == 3  # the oldest blocks were dropped, and counted
