"""The live feed over sheepfold-realtime: a signed-in page's socket gets snapshots while it listens; nobody else."""

from __future__ import annotations

import asyncio

from sheepfold.testing.served import served_app
from sheepfold_console import ConsoleFeed
from sheepfold_realtime import plugin as realtime_plugin
from tests.console.apps import PLUGINS, SETTINGS
from tests.realtime.served import Client
from tests.support.admin import ADMIN_TOKEN

FAST = {**SETTINGS, "console": {**SETTINGS["console"], "refresh_interval": 0.2}}


async def test_a_signed_in_socket_gets_snapshots_on_its_instances_channel_and_the_feed_stops_when_it_leaves():
    async with served_app(FAST, [realtime_plugin, *PLUGINS]) as served:
        response = await served.http.post("/console/sign-in", json={"token": ADMIN_TOKEN})
        assert response.status_code == 204
        cookie = {"Cookie": f"sheepfold_console={response.cookies['sheepfold_console']}"}
        snapshot = (await served.http.get("/-/console/api/snapshot", headers=cookie)).json()
        assert snapshot["live"] == {"websocket": "/ws", "interval": 0.2}
        feed = served.platform.require(ConsoleFeed)
        assert not feed.running  # nobody listens yet: nothing runs
        channel = f"console:{served.platform.instance_id}"
        async with Client.connect(served.address, additional_headers=cookie) as page:
            assert page.of("welcome")[0]["instance"] == served.platform.instance_id
            await page.subscribe(channel)
            events = await page.wait_for("event", 2, channel)
            assert [event["data"]["instance"] for event in events] == [served.platform.instance_id] * 2
            assert events[0]["data"]["statistics"]["limiter"]["counters"] == {"allowed": 10, "limited": 2}
            assert feed.running
        async with asyncio.timeout(5):
            while feed.running:
                await asyncio.sleep(0.05)


async def test_anonymous_sockets_and_other_instances_channels_are_refused():
    async with served_app(FAST, [realtime_plugin, *PLUGINS]) as served:
        own = f"console:{served.platform.instance_id}"
        async with Client.connect(served.address) as stranger:
            await stranger.send(type="subscribe", channel=own)
            assert await stranger.closed() == 1008
        response = await served.http.post("/console/sign-in", json={"token": ADMIN_TOKEN})
        cookie = {"Cookie": f"sheepfold_console={response.cookies['sheepfold_console']}"}
        async with Client.connect(served.address, additional_headers=cookie) as page:
            await page.send(type="subscribe", channel="console:another-instance")
            assert await page.closed() == 1008
        assert not served.platform.require(ConsoleFeed).running
