"""The fallback switch, driven by a deliberately failing state adapter."""

from __future__ import annotations

import asyncio

import pytest
from blacksheep.testing import TestClient

from sheepfold import BackendUnavailable, Phase, create_app
from sheepfold.state.memory import MemoryState
from tests.kernel.plugins_for_tests import plugin
from tests.support.admin import ADMIN_HEADERS

PROBE = 0.05


class FlakyState(MemoryState):
    """A state backend that can be switched off (raises), slowed down, and counts its calls."""

    def __init__(self) -> None:
        super().__init__(max_entries=100)
        self.down = False
        self.delay = 0.0
        self.calls = 0

    async def _gate(self) -> None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            raise BackendUnavailable("flaky backend is down")

    async def get(self, key):
        await self._gate()
        return await super().get(key)

    async def set(self, key, value, ttl=None):
        await self._gate()
        await super().set(key, value, ttl)

    async def incr(self, key, amount=1, ttl=None):
        await self._gate()
        return await super().incr(key, amount, ttl)

    async def ping(self):
        await self._gate()


@pytest.fixture
async def flaky_app():
    backend = FlakyState()

    def providers(register):
        register("state", "flaky", lambda platform: backend)

    app = create_app(
        {"state": {"backend": "flaky", "fallback": "memory"}, "switch": {"probe_interval": PROBE, "call_timeout": 0.2}},
        plugins=[plugin("flaky", sheepfold_register_providers=providers)],
        load_entry_points=False,
    )
    await app.start()
    yield app, backend
    await app.stop()


async def wait_for(predicate, timeout=2.0):
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_hook_register_providers_adapter_is_chosen_by_settings(flaky_app):
    app, backend = flaky_app
    switch = app.platform.capabilities["state"]
    assert switch.backend is backend and switch.active_name == "flaky"
    await switch.set("k", b"v")
    assert await backend.get("k") == b"v"


async def test_a_failed_call_is_served_by_the_fallback_and_opens_the_circuit(flaky_app):
    app, backend = flaky_app
    switch = app.platform.capabilities["state"]
    backend.down = True
    assert await switch.incr("n") == 1  # served by memory, no error reaches the caller
    assert switch.active_name == "memory"
    calls = backend.calls
    for _ in range(20):
        await switch.incr("n")
    assert backend.calls - calls <= 1  # open circuit: only the probe may touch the backend


async def test_the_switch_returns_to_the_backend_when_its_probe_answers(flaky_app):
    app, backend = flaky_app
    switch = app.platform.capabilities["state"]
    backend.down = True
    await switch.get("k")
    backend.down = False
    await wait_for(lambda: switch.on_backend)
    assert switch.switch_count == 2


async def test_a_slow_backend_is_treated_as_down_once_a_probe_confirms_it(flaky_app):
    app, backend = flaky_app
    switch = app.platform.capabilities["state"]
    backend.delay = 5.0
    async with asyncio.timeout(1.0):  # call_timeout is 0.2 s: the call must not wait 5 s
        assert await switch.get("k") is None
    assert switch.on_backend  # one timeout is not an outage: a probe confirms it first
    await wait_for(lambda: switch.active_name == "memory", timeout=1.0)
    backend.delay = 0.0


async def test_errors_that_are_not_outages_reach_the_caller_without_switching(flaky_app):
    app, _backend = flaky_app
    switch = app.platform.capabilities["state"]
    await switch.set("k", b"not a number")
    with pytest.raises(ValueError):
        await switch.incr("k")
    assert switch.on_backend


async def test_health_names_the_capability_and_its_active_backend(flaky_app):
    app, backend = flaky_app
    client = TestClient(app)
    backend.down = True
    await app.platform.capabilities["state"].get("k")
    report = await (await client.get("/health", headers=ADMIN_HEADERS)).json()
    assert report["status"] == "degraded"
    assert report["capabilities"]["state"]["configured"] == "flaky"
    assert report["capabilities"]["state"]["active"] == "memory"
    assert "flaky backend is down" in report["capabilities"]["state"]["last_error"]
    backend.down = False
    await wait_for(lambda: app.platform.capabilities["state"].on_backend)
    report = await (await client.get("/health", headers=ADMIN_HEADERS)).json()
    assert report["status"] == "ok" and report["capabilities"]["state"]["active"] == "flaky"


async def test_every_switch_is_counted_in_metrics(flaky_app):
    app, backend = flaky_app
    backend.down = True
    await app.platform.capabilities["state"].get("k")
    backend.down = False
    await wait_for(lambda: app.platform.capabilities["state"].on_backend)
    text = await (await TestClient(app).get("/metrics", headers=ADMIN_HEADERS)).text()
    assert 'sheepfold_fallback_switches_total{capability="state",to="memory"} 1.0' in text
    assert 'sheepfold_fallback_switches_total{capability="state",to="flaky"} 1.0' in text
    assert 'sheepfold_capability_active_backend{backend="flaky",capability="state"} 1.0' in text


async def test_listeners_hear_every_switch(flaky_app):
    app, backend = flaky_app
    switch = app.platform.capabilities["state"]
    heard = []

    async def listener(switch, phase):
        heard.append(phase)

    switch.add_listener(listener)
    backend.down = True
    await switch.get("k")
    backend.down = False
    await wait_for(lambda: heard == [Phase.FALLBACK, Phase.RECOVERING, Phase.BACKEND])


async def test_a_backend_down_at_start_up_starts_on_the_fallback_and_switches_back():
    backend = FlakyState()
    backend.down = True
    app = create_app(
        {"state": {"backend": "flaky"}, "switch": {"probe_interval": PROBE}},
        plugins=[
            plugin("flaky", sheepfold_register_providers=lambda register: register("state", "flaky", lambda p: backend))
        ],
        load_entry_points=False,
    )
    await app.start()
    switch = app.platform.capabilities["state"]
    assert switch.active_name == "memory"
    assert await switch.incr("n") == 1
    backend.down = False
    await wait_for(lambda: switch.on_backend)
    await app.stop()


class BoundedFlakyState(FlakyState):
    bounds_its_calls = True


async def test_an_adapter_that_bounds_its_own_calls_gets_no_second_timer():
    backend = BoundedFlakyState()
    app = create_app(
        {"state": {"backend": "flaky"}, "switch": {"call_timeout": 0.05}},
        plugins=[
            plugin("flaky", sheepfold_register_providers=lambda register: register("state", "flaky", lambda p: backend))
        ],
        load_entry_points=False,
    )
    await app.start()
    backend.delay = 0.15  # longer than call_timeout: only the adapter's own bound may cut it short
    assert await app.platform.capabilities["state"].get("k") is None
    assert app.platform.capabilities["state"].on_backend
    await app.stop()


async def test_without_a_fallback_calls_reach_the_adapter_directly():
    app = create_app(load_entry_points=False)
    switch = app.platform.capabilities["state"]
    assert switch.get == switch.backend.get  # the bound method itself: no wrapper on the path


async def test_replacing_the_adapters_reroutes_cached_methods(flaky_app):
    app, backend = flaky_app
    switch = app.platform.capabilities["state"]
    await switch.set("k", b"old")
    replacement = FlakyState()
    switch.set_adapters(replacement, switch.fallback)
    await switch.set("k", b"new")
    assert await replacement.get("k") == b"new" and await backend.get("k") == b"old"
