"""The fallback switch, driven by a deliberately failing state adapter."""

from __future__ import annotations

import asyncio

import pytest
from blacksheep.testing import TestClient

from sheepfold import BackendUnavailable, Phase, SettingsError, create_app
from sheepfold.cache.memory import MemoryCache
from sheepfold.pubsub.memory import MemoryPubSub
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


def flaky_state_app(backend: FlakyState, **switch: float):
    def providers(register):
        register("state", "flaky", lambda platform: backend)

    return create_app(
        {"state": {"backend": "flaky", "fallback": "memory"}, "switch": {"probe_interval": PROBE, **switch}},
        plugins=[plugin("flaky", sheepfold_register_providers=providers)],
        load_entry_points=False,
    )


class JournaledState(MemoryState):
    """A fallback that journals the keys written to it, as the kernel's session and cache fallbacks do."""

    def __init__(self) -> None:
        super().__init__(max_entries=100)
        self.journal: dict[str, bytes] = {}

    async def set(self, key, value, ttl=None):
        await super().set(key, value, ttl)
        self.journal[key] = value


async def test_a_failing_recovery_step_sends_the_switch_back_to_the_fallback_and_keeps_what_was_not_replayed():
    backend, fallback = FlakyState(), JournaledState()
    app = flaky_state_app(backend)
    switch = app.platform.capabilities["state"]
    switch.set_adapters(backend, fallback)
    heard: list[Phase] = []
    switch.add_listener(lambda switch, phase: heard.append(phase))

    async def replay(recovery):
        for key in sorted(recovery.fallback.journal):
            await recovery.backend.set(key, recovery.fallback.journal[key])  # raises when the backend is down
            del recovery.fallback.journal[key]
            backend.down = key == "a"  # the backend fails again after the first key

    switch.add_recovery_step("replay", replay)
    await app.start()
    try:
        backend.down = True
        await switch.set("a", b"1")
        await switch.set("b", b"2")
        backend.down = False
        await wait_for(lambda: switch.last_recovery is not None)
        assert switch.last_recovery.outcome.startswith("failed: BackendUnavailable")
        assert heard[:3] == [Phase.FALLBACK, Phase.RECOVERING, Phase.FALLBACK]
        assert fallback.journal == {"b": b"2"}  # replayed: a; kept for the next recovery: b
        backend.down = False
        await wait_for(lambda: switch.on_backend)
        assert fallback.journal == {} and await backend.get("b") == b"2"
        assert switch.last_recovery.outcome == "ok"
    finally:
        await app.stop()


async def test_while_recovering_calls_are_served_by_what_serve_while_recovering_built():
    backend = FlakyState()
    app = flaky_state_app(backend)
    switch = app.platform.capabilities["state"]
    release = asyncio.Event()
    built = []

    class ReadThrough(MemoryState):
        async def get(self, key):
            return await recovery_seen[0].backend.get(key)

    recovery_seen = []

    def make(recovery):
        recovery_seen.append(recovery)
        built.append(ReadThrough(max_entries=10))
        return built[-1]

    async def held(recovery):
        await release.wait()

    switch.serve_while_recovering(make)
    switch.add_recovery_step("held", held)
    await app.start()
    try:
        await switch.set("k", b"on the backend")
        backend.down = True
        assert await switch.get("k") is None  # on the fallback: the memory state does not hold it
        backend.down = False
        await wait_for(lambda: switch.phase is Phase.RECOVERING)
        assert await switch.get("k") == b"on the backend"  # read through the built adapter
        release.set()
        await wait_for(lambda: switch.on_backend)
        backend.down = True
        await switch.get("k")
        assert switch.phase is Phase.FALLBACK
        assert await switch.get("k") is None  # outside the recovering window: the fallback alone
        assert len(built) == 1
        release.clear()
        backend.down = False
        await wait_for(lambda: switch.phase is Phase.RECOVERING)
        assert len(built) == 2  # built again for every recovery
        release.set()
    finally:
        release.set()
        await app.stop()


class Unreliable:
    """Wraps an adapter; what a feature's outage policy might do to a fallback."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def get(self, key):
        return b"from the wrapper"


async def test_wrap_fallback_replaces_the_fallback_for_calls_made_from_then_on(flaky_app):
    app, backend = flaky_app
    switch = app.platform.capabilities["state"]
    original = switch.fallback
    switch.wrap_fallback(Unreliable)
    assert switch.fallback.inner is original
    backend.down = True
    assert await switch.get("k") == b"from the wrapper"


async def test_wrap_fallback_without_a_fallback_changes_nothing():
    app = create_app(load_entry_points=False)
    switch = app.platform.capabilities["state"]
    adapter = switch.backend
    switch.wrap_fallback(Unreliable)
    assert switch.fallback is adapter and switch.get == adapter.get


class LinkedPubSub(MemoryPubSub):
    pass


async def test_a_synchronous_port_method_stays_synchronous_and_registers_on_both_adapters():
    backend = LinkedPubSub()

    def providers(register):
        register("pubsub", "linked", lambda platform: backend)

    app = create_app(
        {"pubsub": {"backend": "linked", "fallback": "memory"}},
        plugins=[plugin("linked", sheepfold_register_providers=providers)],
        load_entry_points=False,
    )
    switch = app.platform.capabilities["pubsub"]

    def listener(up: bool) -> None:
        pass

    assert switch.add_link_listener(listener) is None  # not a coroutine: nothing left "never awaited"
    assert listener in backend._listeners and listener in switch.fallback._listeners


async def test_an_adapter_missing_a_port_method_or_of_the_wrong_shape_fails_start_up_naming_it():
    class Shapeless(MemoryState):
        incr = None  # missing

        def get(self, key):  # synchronous where the port's is async
            return None

    def providers(register):
        register("state", "shapeless", lambda platform: Shapeless(max_entries=1))

    with pytest.raises(SettingsError) as failure:
        create_app(
            {"state": {"backend": "shapeless", "fallback": "memory"}},
            plugins=[plugin("shapeless", sheepfold_register_providers=providers)],
            load_entry_points=False,
        )
    problems = "\n".join(failure.value.problems)
    assert "state: adapter 'shapeless' has no method 'incr' of State" in problems
    assert "state: adapter 'shapeless' method 'get' must be a coroutine function, as in State" in problems


async def test_a_method_the_port_does_not_declare_is_refused(flaky_app):
    app, _backend = flaky_app
    switch = app.platform.capabilities["state"]
    with pytest.raises(AttributeError):
        switch._gate  # noqa: B018 - an adapter's own method, not the port's


async def test_a_recovery_longer_than_recovery_timeout_goes_back_to_the_fallback_and_runs_again_after_the_next_probe():
    backend = FlakyState()
    app = flaky_state_app(backend, recovery_timeout=0.1)
    switch = app.platform.capabilities["state"]
    heard: list[Phase] = []
    switch.add_listener(lambda switch, phase: heard.append(phase))
    runs = 0
    hang = asyncio.Event()  # set: the step hangs (a backend that accepts and never answers)

    async def step(recovery):
        nonlocal runs
        runs += 1
        if hang.is_set():
            await asyncio.Event().wait()

    switch.add_recovery_step("step", step)
    await app.start()
    try:
        hang.set()
        backend.down = True
        await switch.get("k")
        backend.down = False
        await wait_for(lambda: switch.last_recovery is not None)
        assert switch.last_recovery.outcome == "failed: took longer than recovery_timeout (0.1 s)"
        assert heard[:3] == [Phase.FALLBACK, Phase.RECOVERING, Phase.FALLBACK]
        hang.clear()
        await wait_for(lambda: switch.on_backend)
        assert runs >= 2 and switch.last_recovery.outcome == "ok"
    finally:
        await app.stop()


class FlakyCache(MemoryCache):
    """A cache backend on the same (pretend) server as a :class:`FlakyState`: down when it is."""

    def __init__(self, state: FlakyState, outage_domain: object | None) -> None:
        super().__init__(max_entries=100)
        self.state = state
        self.outage_domain = outage_domain

    async def get(self, key):
        await self.state._gate()
        return await super().get(key)

    async def ping(self):
        await self.state._gate()


def one_server_app(*, shared: bool, **switch: float):
    """State and cache on one flaky server; with ``shared``, both adapters name it as their outage domain."""
    server = object()
    state = FlakyState()
    state.outage_domain = server if shared else None
    cache = FlakyCache(state, server if shared else None)

    def providers(register):
        register("state", "flaky", lambda platform: state)
        register("cache", "flaky", lambda platform: cache)

    app = create_app(
        {
            "state": {"backend": "flaky", "fallback": "memory"},
            "cache": {"backend": "flaky", "fallback": "memory"},
            "switch": {"probe_interval": PROBE, "call_timeout": 0.1, **switch},
        },
        plugins=[plugin("flaky", sheepfold_register_providers=providers)],
        load_entry_points=False,
    )
    return app, state


@pytest.mark.parametrize("failure", ["refused", "silent"])
async def test_switches_of_one_backend_server_go_to_their_fallbacks_together(failure):
    app, server = one_server_app(shared=True)
    state, cache = app.platform.capabilities["state"], app.platform.capabilities["cache"]
    await app.start()
    try:
        if failure == "refused":
            server.down = True
        else:
            server.delay = 5.0
        await state.get("k")  # only the state has a call: the cache learns from it
        await wait_for(lambda: not state.on_backend and not cache.on_backend, timeout=1.0)
        assert cache.last_error == state.last_error
        server.down, server.delay = False, 0.0
        await wait_for(lambda: state.on_backend and cache.on_backend)
    finally:
        await app.stop()


async def test_switches_of_backends_without_an_outage_domain_decide_alone():
    app, server = one_server_app(shared=False)
    state, cache = app.platform.capabilities["state"], app.platform.capabilities["cache"]
    await app.start()
    try:
        server.down = True
        await state.get("k")
        assert not state.on_backend and cache.on_backend
    finally:
        await app.stop()


async def test_an_outage_confirmed_during_a_recovery_ends_it_on_the_fallback_and_it_runs_again_later():
    app, server = one_server_app(shared=True)
    state, cache = app.platform.capabilities["state"], app.platform.capabilities["cache"]
    release = asyncio.Event()
    runs = 0

    async def held(recovery):
        nonlocal runs
        runs += 1
        await release.wait()

    state.add_recovery_step("held", held)
    await app.start()
    try:
        server.down = True
        await state.get("k")
        server.down = False
        await wait_for(lambda: state.phase is Phase.RECOVERING and cache.on_backend)
        server.down = True
        await cache.get("k")  # the cache, on the backend again, finds the server down: the state's recovery ends
        assert state.phase is Phase.FALLBACK
        await wait_for(lambda: state.last_recovery is not None)
        assert state.last_recovery.outcome.startswith("failed: the backend failed meanwhile")
        release.set()
        server.down = False
        await wait_for(lambda: state.on_backend and cache.on_backend)
        assert runs == 2
    finally:
        release.set()
        await app.stop()
