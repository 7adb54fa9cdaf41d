"""While the rate-limit backend is down, each policy's on_outage decides: memory, open or closed."""

from __future__ import annotations

import pytest
from blacksheep.testing import TestClient

from sheepfold import BackendUnavailable, hookimpl
from tests.ratelimit.app_for_tests import limited_app
from tests.support.admin import ADMIN_HEADERS


class DownLimiter:
    """A backend whose every call fails, as a dead Redis does."""

    async def hit(self, key, policy, cost=1):
        raise BackendUnavailable("redis is down")

    async def reset(self, key, policy):
        raise BackendUnavailable("redis is down")

    async def ping(self):
        raise BackendUnavailable("redis is down")

    async def start(self):
        return None

    async def close(self):
        return None


class DownBackendPlugin:
    @hookimpl
    def sheepfold_register_providers(self, register):
        register("ratelimit", "down", lambda platform: DownLimiter())


@pytest.fixture
async def outage_client():
    apps = []

    async def start(on_outage: str, fallback: str = "memory", expected_instances: int = 1):
        policies = {
            "standard": {"limit": "6/minute", "on_outage": on_outage, "expected_instances": expected_instances},
            "strict": {"limit": "2/minute"},
        }
        app = limited_app(
            {"policies": policies},
            DownBackendPlugin(),
            **{"ratelimit.backend": "down", "ratelimit.fallback": fallback},
        )
        await app.start()
        apps.append(app)
        return TestClient(app)

    yield start
    for app in apps:
        await app.stop()


async def statuses(client, path: str, count: int) -> list[int]:
    return [(await client.get(path)).status for _ in range(count)]


async def test_memory_counts_locally_with_the_limit_divided_by_the_expected_instances(outage_client):
    client = await outage_client("memory", expected_instances=3)
    assert await statuses(client, "/open", 3) == [200, 200, 429]
    response = await client.get("/open")
    # The headers still advertise the fleet policy; the count is this instance's share.
    assert response.headers.get_first(b"RateLimit-Policy") == b'"standard";q=6;w=60'


async def test_open_lets_every_request_through_without_headers(outage_client):
    client = await outage_client("open")
    responses = [await client.get("/open") for _ in range(10)]
    assert [r.status for r in responses] == [200] * 10
    assert responses[-1].headers.get_first(b"RateLimit") is None


async def test_closed_refuses_with_a_503_problem(outage_client):
    client = await outage_client("closed")
    response = await client.get("/open")
    assert response.status == 503
    assert response.headers.get_first(b"Content-Type") == b"application/problem+json"
    assert response.headers.get_first(b"Retry-After") == b"1"


async def test_without_a_fallback_adapter_open_still_admits_and_memory_fails_closed(outage_client):
    assert await statuses(await outage_client("open", fallback="down"), "/open", 3) == [200] * 3
    assert await statuses(await outage_client("memory", fallback="down"), "/open", 1) == [503]


async def test_the_outage_shows_in_health_and_is_counted_in_metrics(outage_client):
    client = await outage_client("open")
    await statuses(client, "/open", 4)
    await statuses(client, "/strict", 1)
    report = await (await client.get("/health", headers=ADMIN_HEADERS)).json()
    assert report["capabilities"]["ratelimit"]["active"] == "memory"
    component = report["components"]["ratelimit"]
    assert component["status"] == "degraded"
    assert component["policies"]["standard"]["in_effect"] == "open"
    assert component["policies"]["strict"]["in_effect"].startswith("memory")
    metrics = (await (await client.get("/metrics", headers=ADMIN_HEADERS)).read()).decode()
    assert 'sheepfold_ratelimit_outage_decisions_total{mode="open",policy="standard"} 4.0' in metrics
    assert 'sheepfold_ratelimit_outage_decisions_total{mode="memory",policy="strict"} 1.0' in metrics
    assert 'sheepfold_ratelimit_decisions_total{decision="open",policy="standard"} 4.0' in metrics
