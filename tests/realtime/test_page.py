"""The example plugin's realtime page in headless Chromium against two real instances on one Redis.

The page is served by instance A; the browser signs in there and opens its socket there; events are
published through instance B (an admin broadcast, an event on the user's channel) and by a job the
page starts: all of them appear on the page as they arrive.
"""

from __future__ import annotations

import pytest

from tests.ratelimit.fleet import fleet
from tests.realtime.app_for_tests import admin_publish
from tests.realtime.fleet import address_of, realtime_fleet_settings
from tests.support.browser import Browser, chromium_path
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import RedisServer

EVENTS = "[...document.querySelectorAll('#events li')].map(li => li.dataset.type + ' ' + li.textContent)"


@pytest.fixture(scope="module")
def two_instances_with_the_example():
    chromium_path()  # skip before starting anything when there is no browser
    with (
        RedisServer() as server,
        fleet(realtime_fleet_settings(server.url, fresh_prefix(), with_example=True)) as instances,
    ):
        yield [address_of(instance.url) for instance in instances]


async def test_the_page_shows_broadcasts_its_own_events_and_a_job_result_as_they_arrive(
    two_instances_with_the_example,
):
    a, b = two_instances_with_the_example
    async with Browser() as browser:
        await browser.open(f"http://{a}/example/realtime")
        await browser.evaluate(
            "document.getElementById('user').value = 'alice';document.getElementById('login').requestSubmit(); true"
        )
        await browser.wait_until("document.body.dataset.status === 'live'")

        assert (await admin_publish(b, "platform", {"notice": "maintenance at noon"})).status_code == 202
        assert (await admin_publish(b, "user:alice", {"hello": "alice"})).status_code == 202
        assert (await admin_publish(b, "user:bob", {"not": "for alice"})).status_code == 202
        await browser.wait_until(f"{EVENTS}.length >= 2")

        await browser.evaluate("document.getElementById('job').click(); true")
        await browser.wait_until(f"{EVENTS}.some(text => text.includes('words'))")
        shown = await browser.evaluate(EVENTS)

    assert shown[0] == 'event platform #1: {"notice":"maintenance at noon"}'
    assert shown[1] == 'event user:alice #1: {"hello":"alice"}'
    assert shown[2].startswith("event user:alice #2: {") and '"words":9' in shown[2]
    assert not any("bob" in text for text in shown)
