"""The realtime console figures over real sockets, on the memory broker and on Redis: sockets, traffic, gaps."""

from __future__ import annotations

import pytest

from sheepfold.pubsub import PubSub
from sheepfold.statistics import gather_statistics
from sheepfold.testing.isolation import fresh_prefix, remove_redis_prefix
from sheepfold_realtime import RealtimeHub
from sheepfold_redis import plugin as redis_plugin
from tests.realtime.app_for_tests import login, realtime_settings, served
from tests.realtime.served import Client


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def settings(request):
    if request.param == "memory":
        yield realtime_settings()
        return
    url, prefix = request.getfixturevalue("redis_url"), fresh_prefix()
    yield realtime_settings(redis={"url": url, "prefix": prefix}, pubsub={"backend": "redis", "fallback": "memory"})
    await remove_redis_prefix(url, prefix)


async def test_sockets_channels_traffic_and_gaps_are_reported(settings):
    async with served(settings, redis_plugin) as (address, app):
        platform = app.platform
        assert platform.capabilities["pubsub"].active_name == settings.get("pubsub", {}).get("backend", "memory")
        hub = RealtimeHub.of(platform)
        cookie = await login(address, "alice")
        async with (
            Client.connect(address) as anonymous,
            Client.connect(address, additional_headers={"Cookie": cookie}) as alice,
        ):
            await anonymous.subscribe("platform")
            await alice.subscribe("platform")
            await alice.subscribe("user:alice")
            for number in range(3):
                await hub.publish("platform", number)
            await hub.publish("user:alice", "hello")
            await hub.publish("user:bob", "nobody listens")
            # Another instance's numbers through the broker, with number 2 lost on the way: a gap.
            broker = platform.require(PubSub)
            await broker.publish("platform", b'another-instance\n1\n"a"')
            await broker.publish("platform", b'another-instance\n3\n"c"')
            for client in (anonymous, alice):
                await client.wait_for("resync", channel="platform")
                await client.wait_for("event", 5, channel="platform")
            await alice.wait_for("event", channel="user:alice")

            section = (await gather_statistics(platform))["realtime"]

    assert section["counters"] == {
        "published": 5,
        "published.delivered": 4,
        "published.no_receiver": 1,
        "published.broker_down": 0,
        "delivered": 2 * 3 + 1 + 2 * 2,  # 3 publishes to two sockets, 1 to alice, 2 envelopes heard from the broker
        "dropped": 0,
        "resyncs.gap": 2,
        "resyncs.reconnected": 0,
        "resyncs.dropped": 0,
        "refused_subscriptions": 0,
    }
    assert section["gauges"] == {"sockets": 2, "channels": 2, "subscriptions": 3, "broker_linked": 1}
    assert section["tables"]["busiest_channels"] == [
        {"channel": "platform", "sockets": 2, "events": 5},
        {"channel": "user:alice", "sockets": 1, "events": 1},
    ]
