"""One limit for the fleet: two real ``sheepfold serve`` processes share a policy through Redis."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

from tests.ratelimit.fleet import fleet, fleet_settings
from tests.support.admin import ADMIN_HEADERS
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis

LIMIT = 20


def client_at(address: str) -> dict[str, str]:
    """Headers that make a request from 127.0.0.1 (a trusted proxy) count as a request from ``address``."""
    return {"X-Forwarded-For": address}


async def spread(client: httpx.AsyncClient, instances, count: int, headers: dict[str, str]) -> list[int]:
    """``count`` requests, one at a time, alternating between the instances; their status codes."""
    urls = itertools.cycle(f"{instance.url}/health/live" for instance in instances)
    return [(await client.get(next(urls), headers=headers)).status_code for _ in range(count)]


async def spread_at_once(client: httpx.AsyncClient, instances, count: int, headers: dict[str, str]) -> list[int]:
    urls = itertools.cycle(f"{instance.url}/health/live" for instance in instances)
    responses = await asyncio.gather(*(client.get(next(urls), headers=headers) for _ in range(count)))
    return [response.status_code for response in responses]


@pytest.fixture(scope="module")
def shared_fleet(redis_url):
    # expected_instances = 1: were the instances counting apart, they would admit twice the limit.
    settings = fleet_settings(redis_url, fresh_prefix(), f"{LIMIT}/minute", expected_instances=1)
    with fleet(settings) as instances:
        for instance in instances:
            assert (
                httpx.get(f"{instance.url}/health", headers=ADMIN_HEADERS).json()["capabilities"]["ratelimit"]["active"]
                == "redis"
            )
        yield instances


async def test_two_instances_admit_exactly_the_limit_sequentially(shared_fleet):
    async with httpx.AsyncClient() as client:
        statuses = await spread(client, shared_fleet, 3 * LIMIT, client_at("198.51.100.1"))
    assert statuses.count(200) == LIMIT
    assert statuses[:LIMIT] == [200] * LIMIT and set(statuses[LIMIT:]) == {429}


async def test_two_instances_admit_exactly_the_limit_under_concurrent_load(shared_fleet):
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as client:
        statuses = await spread_at_once(client, shared_fleet, 5 * LIMIT, client_at("198.51.100.2"))
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 4 * LIMIT


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_change_the_key(shared_fleet):
    # 127.0.0.2 is not a trusted proxy (nor trusted by uvicorn): its X-Forwarded-For must be ignored.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(transport=transport) as client:
        urls = itertools.cycle(f"{instance.url}/health/live" for instance in shared_fleet)
        statuses = [
            (await client.get(next(urls), headers=client_at(f"203.0.113.{n}"))).status_code for n in range(2 * LIMIT)
        ]
    assert statuses.count(200) == LIMIT


async def test_redis_killed_mid_load_answers_only_2xx_or_429_and_the_fleet_limit_resumes():
    with RedisServer() as redis, fleet(fleet_settings(redis.url, fresh_prefix(), f"{LIMIT}/minute")) as instances:
        async with httpx.AsyncClient() as client:
            before = await spread(client, instances, 5, client_at("198.51.100.3"))
            assert before == [200] * 5

            answered: list[int] = []
            stop = asyncio.Event()

            async def background_load() -> None:
                urls = itertools.cycle(f"{instance.url}/health/live" for instance in instances)
                while not stop.is_set():
                    answered.append((await client.get(next(urls), headers=client_at("198.51.100.4"))).status_code)

            load = asyncio.create_task(background_load())
            await asyncio.sleep(0.3)
            redis.kill()
            await asyncio.sleep(0.5)

            # Memory fallback: each instance admits a fresh key LIMIT / 2 times, the fleet LIMIT in all.
            during = await spread(client, instances, 2 * LIMIT, client_at("198.51.100.5"))
            assert during.count(200) == LIMIT and set(during) == {200, 429}
            for instance in instances:
                report = (await client.get(f"{instance.url}/health", headers=ADMIN_HEADERS)).json()
                assert report["components"]["ratelimit"]["status"] == "degraded"
                assert report["capabilities"]["ratelimit"]["active"] == "memory"

            redis.start()
            await wait_until_on_redis(client, instances)
            await asyncio.sleep(0.3)
            stop.set()
            await load

            assert answered and set(answered) <= {200, 429}, sorted(set(answered))
            after = await spread(client, instances, 2 * LIMIT, client_at("198.51.100.6"))
            assert after.count(200) == LIMIT


async def wait_until_on_redis(client: httpx.AsyncClient, instances, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        for instance in instances:
            while (await active_backend(client, instance.url)) != "redis":
                await asyncio.sleep(0.1)


async def active_backend(client: httpx.AsyncClient, url: str) -> str:
    report = (await client.get(f"{url}/health", headers=ADMIN_HEADERS)).json()
    return str(report["capabilities"]["ratelimit"]["active"])
