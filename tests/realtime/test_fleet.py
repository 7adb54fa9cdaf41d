"""Two real ``sheepfold serve`` processes on one Redis: every socket gets every message exactly once,
and a Redis restart costs sockets nothing but a ``resync``.

A redis-server of the test's own on a spare loopback port (so that it can be killed), real
WebSocket clients, events published through the admin route of either instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest
import redis.asyncio as redis

from tests.ratelimit.fleet import fleet
from tests.realtime.app_for_tests import ADMIN_TOKEN, admin_publish, login
from tests.realtime.fleet import address_of, health, realtime_fleet_settings
from tests.realtime.served import Client
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import RedisServer

SOCKETS_PER_INSTANCE = 10
EVENTS = 120


@pytest.fixture(scope="module")
def redis_and_fleet():
    prefix = fresh_prefix()
    with RedisServer() as server, fleet(realtime_fleet_settings(server.url, prefix)) as instances:
        yield server, prefix, [address_of(instance.url) for instance in instances]


@pytest.fixture(scope="module")
def cluster_fleet(redis_cluster_nodes):
    """Two instances on the session's Redis Cluster: realtime on sharded pub/sub."""
    settings = realtime_fleet_settings("", fresh_prefix(), cluster_nodes=redis_cluster_nodes)
    with fleet(settings) as instances:
        yield [address_of(instance.url) for instance in instances]


@pytest.fixture(params=["one-server", "cluster"])
def fleet_addresses(request) -> list[str]:
    """The two instances' addresses, on one Redis server and on a Redis Cluster."""
    if request.param == "cluster":
        return request.getfixturevalue("cluster_fleet")
    return request.getfixturevalue("redis_and_fleet")[2]


async def test_sheepfold_serve_declines_per_message_deflate_that_a_client_offers(redis_and_fleet):
    _server, _prefix, (a, _b) = redis_and_fleet
    # websockets offers permessage-deflate by default; the answer accepts no extension.
    async with Client.connect(a) as client:
        assert client.connection.response.headers.get("Sec-WebSocket-Extensions") is None


async def test_every_socket_on_either_instance_gets_every_event_exactly_once(fleet_addresses):
    a, b = fleet_addresses
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(Client.connect(address))
            for address in [a] * SOCKETS_PER_INSTANCE + [b] * SOCKETS_PER_INSTANCE
        ]
        await asyncio.gather(*(client.subscribe("platform") for client in clients))

        async def publisher(address: str, numbers: range) -> list[dict]:
            return [(await admin_publish(address, "platform", {"id": n, "from": address})).json() for n in numbers]

        outcomes = await asyncio.gather(publisher(a, range(0, EVENTS, 2)), publisher(b, range(1, EVENTS, 2)))
        await asyncio.gather(*(client.wait_for("event", EVENTS, timeout=20) for client in clients))
        await asyncio.sleep(0.3)  # time for a duplicate to show up

    for outcome in outcomes[0] + outcomes[1]:
        assert outcome == {"local_sockets": SOCKETS_PER_INSTANCE, "remote_instances": 1, "broker_reached": True}
    for client in clients:
        events = client.of("event")
        ids = [event["data"]["id"] for event in events]
        assert sorted(ids) == list(range(EVENTS)), "every event exactly once"
        for origin in (a, b):
            from_origin = [event["data"]["id"] for event in events if event["data"]["from"] == origin]
            assert from_origin == sorted(from_origin), "each publisher's events in order"
        assert [event["seq"] for event in events] == list(range(1, EVENTS + 1))
        assert client.of("resync") == []


async def test_a_user_channel_reaches_the_users_socket_on_the_other_instance_and_only_it_subscribes(
    redis_and_fleet,
):
    server, prefix, (a, b) = redis_and_fleet
    cookie = await login(a, "alice")  # the session lives in Redis: valid on b too
    async with Client.connect(b, additional_headers={"Cookie": cookie}) as alice:
        assert alice.of("welcome")[0]["user"] == "alice"
        await alice.subscribe("user:alice")
        outcome = (await admin_publish(a, "user:alice", {"job": "done"})).json()
        assert (await alice.wait_for("event"))[0]["data"] == {"job": "done"}
        assert outcome == {"local_sockets": 0, "remote_instances": 1, "broker_reached": True}
        client = redis.Redis.from_url(server.url)
        try:
            counts = dict(await client.pubsub_numsub(f"sheepfold:{prefix}:pubsub:user:alice"))
            nobody = dict(await client.pubsub_numsub(f"sheepfold:{prefix}:pubsub:user:bob"))
        finally:
            await client.aclose()
    assert list(counts.values()) == [1]  # b only: a has no socket on it
    assert list(nobody.values()) == [0]


async def test_redis_killed_sockets_stay_open_local_delivery_goes_on_and_clients_get_resync(redis_and_fleet):
    server, _prefix, (a, b) = redis_and_fleet
    async with Client.connect(a) as on_a, Client.connect(b) as on_b, httpx.AsyncClient(timeout=5) as http:
        await on_a.subscribe("platform")
        await on_b.subscribe("platform")
        server.kill()
        async with asyncio.timeout(10):
            while [(await health(http, f"http://{x}"))["status"] for x in (a, b)] != ["degraded", "degraded"]:
                await asyncio.sleep(0.05)
        during = (await admin_publish(a, "platform", "during the outage")).json()
        assert (await on_a.wait_for("event"))[0]["data"] == "during the outage"
        metrics = (await http.get(f"http://{a}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})).text

        server.start()
        restarted = time.monotonic()
        await on_a.wait_for("resync", timeout=5)
        await on_b.wait_for("resync", timeout=5)
        resynced_within = time.monotonic() - restarted
        async with asyncio.timeout(5):
            while [(await health(http, f"http://{x}"))["status"] for x in (a, b)] != ["ok", "ok"]:
                await asyncio.sleep(0.05)
        after = (await admin_publish(a, "platform", "after the outage")).json()
        await on_b.wait_for("event")
        assert on_a.connection.close_code is None and on_b.connection.close_code is None

    assert during == {"local_sockets": 1, "remote_instances": 0, "broker_reached": False}
    assert 'sheepfold_realtime_publishes_total{outcome="broker_down"} 1.0' in metrics
    assert [event["data"] for event in on_b.of("event")] == ["after the outage"]
    assert on_a.of("resync")[0]["reason"] == on_b.of("resync")[0]["reason"] == "reconnected"
    assert resynced_within < 2.0
    assert after["remote_instances"] == 1


async def test_stopping_an_instance_closes_its_sockets_with_1001_before_uvicorn_would_say_1012(redis_and_fleet):
    server, prefix, _addresses = redis_and_fleet
    with fleet(realtime_fleet_settings(server.url, prefix), size=1) as (instance,):
        async with Client.connect(address_of(instance.url)) as client:
            await client.subscribe("platform")
            instance.process.terminate()  # SIGTERM, as a process manager stops it
            assert await client.closed(timeout=10) == 1001
