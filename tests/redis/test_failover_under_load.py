"""A Redis master killed under steady HTTP load on two ``sheepfold serve`` processes: with Sentinel, and on a
Cluster. No request gets a 5xx (memory covers the gap) and both processes are back on Redis, writing to the
promoted replica, within the failover's own time + 2 s."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio import RedisCluster as ClusterClient

from tests.redis.test_cross_instance import serving, settings_file
from tests.support.admin import ADMIN_HEADERS
from tests.support.redis_server import RedisCluster, RedisServer, _cli, start_sentinels

pytestmark = pytest.mark.redis

WORKERS = 8


class Load:
    """``WORKERS`` clients incrementing counters through both processes, each status kept."""

    def __init__(self, client: httpx.AsyncClient, urls: list[str]) -> None:
        self.client, self.urls = client, urls
        self.statuses: list[int] = []
        self._stop = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    async def _work(self, number: int) -> None:
        base = self.urls[number % len(self.urls)]
        while not self._stop.is_set():
            self.statuses.append((await self.client.post(f"{base}/t/state/load-{number}/incr")).status_code)
            await asyncio.sleep(0.005)  # offered load below what this one test process can send

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Load]:
        self._workers = [asyncio.create_task(self._work(number)) for number in range(WORKERS)]
        try:
            await asyncio.sleep(0.5)
            yield self
        finally:
            self._stop.set()
            await asyncio.gather(*self._workers)


async def back_on_redis(client: httpx.AsyncClient, urls: list[str]) -> bool:
    """Both processes serve state from Redis again, after having moved to memory (switches 2, 4, ...)."""
    for url in urls:
        state = (await client.get(url + "/health", headers=ADMIN_HEADERS)).json()["capabilities"]["state"]
        if state["active"] != "redis" or state["switches"] == 0 or state["switches"] % 2:
            return False
    return True


async def when(condition: Callable[[], Awaitable[bool]], *, within: float) -> float:
    """When (monotonic) ``condition`` first held, polled every 50 ms."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)
    return time.monotonic()


async def kill_under_load(
    urls: list[str], kill: Callable[[], None], promoted: Callable[[], Awaitable[bool]]
) -> tuple[list[int], float, float, httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client, Load(client, urls).running() as load:
        killed = time.monotonic()
        await asyncio.to_thread(kill)
        failover = await when(promoted, within=30) - killed
        followed = await when(lambda: back_on_redis(client, urls), within=30) - killed
        await asyncio.sleep(0.3)  # load on the new master for a while
    return load.statuses, failover, followed, client


async def incremented_through_each(urls: list[str]) -> list[str]:
    async with httpx.AsyncClient(timeout=5) as client:
        for url in urls:
            assert (await client.post(f"{url}/t/state/after-{url[-5:]}/incr")).status_code == 200
    return [f"after-{url[-5:]}" for url in urls]


async def test_a_sentinel_failover_under_load_costs_no_5xx_and_is_followed_within_2_s(tmp_path):
    with (
        RedisServer(extra=["--repl-diskless-sync-delay", "0"]) as master,
        RedisServer(extra=["--replicaof", "127.0.0.1", str(master.port)]) as replica,
    ):
        sentinels = start_sentinels(master, "sheepfold-load")
        try:
            hosts = ", ".join(f'"127.0.0.1:{sentinel.port}"' for sentinel in sentinels)
            topology = f'sentinel = {{ hosts = [{hosts}], service_name = "sheepfold-load" }}'
            settings = settings_file(tmp_path, topology=topology)
            prefix = settings.read_text().split('prefix = "')[1].split('"')[0]

            async def replica_promoted() -> bool:
                answer = _cli(sentinels[0].port, "sentinel", "get-master-addr-by-name", "sheepfold-load")
                return str(replica.port) in answer.split()

            with serving(settings, 2) as urls:
                statuses, failover, followed, _ = await kill_under_load(urls, master.kill, replica_promoted)
                keys = await incremented_through_each(urls)
            async with Redis(port=replica.port) as new_master:
                assert [await new_master.get(f"sheepfold:{prefix}:state:{key}") for key in keys] == [b"1", b"1"]
        finally:
            for sentinel in sentinels:
                sentinel.stop()
    report(statuses, failover, followed, "Sentinel")


async def test_a_cluster_failover_under_load_costs_no_5xx_and_is_followed_within_2_s(tmp_path):
    cluster = RedisCluster(3, replicas=1).start()
    try:
        nodes = ", ".join(f'"{node}"' for node in cluster.nodes)
        settings = settings_file(tmp_path, topology=f"cluster = {{ nodes = [{nodes}] }}")
        prefix = settings.read_text().split('prefix = "')[1].split('"')[0]
        victim = cluster.primaries()[0]

        async def replica_promoted() -> bool:
            primaries = await asyncio.to_thread(cluster.primaries)
            return len(primaries) == cluster.masters and victim not in primaries

        with serving(settings, 2) as urls:
            statuses, failover, followed, _ = await kill_under_load(urls, cluster.server(victim).kill, replica_promoted)
            keys = await incremented_through_each(urls)
        live = next(node for node in cluster.nodes if not node.endswith(f":{victim}"))
        async with ClusterClient.from_url(f"redis://{live}") as client:
            assert [await client.get(f"sheepfold:{prefix}:state:{key}") for key in keys] == [b"1", b"1"]
    finally:
        cluster.stop()
    report(statuses, failover, followed, "Cluster")


def report(statuses: list[int], failover: float, followed: float, topology: str) -> None:
    print(
        f"\n{topology}: {len(statuses)} requests, replica promoted {failover:.1f} s after the kill, "
        f"both processes back on Redis after {followed:.1f} s"
    )
    assert [status for status in statuses if status >= 500] == []
    assert followed < failover + 2.0
