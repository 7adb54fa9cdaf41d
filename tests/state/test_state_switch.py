"""The state capability's switch serves every method of the State port, and fails each over alike."""

from __future__ import annotations

import asyncio
import math

import pytest

from sheepfold import BackendUnavailable, Phase, State, create_app
from sheepfold.port_methods import port_methods
from sheepfold.state.memory import MemoryState
from tests.kernel.plugins_for_tests import plugin

PROBE = 0.05


class SwitchableState(MemoryState):
    """A memory backend whose every port method raises BackendUnavailable while ``down``."""

    def __init__(self) -> None:
        super().__init__(max_entries=100)
        self.down = False


def _gated(name: str):
    served = getattr(MemoryState, name)

    async def method(self, *args, **kwargs):
        if self.down:
            raise BackendUnavailable("switchable backend is down")
        return await served(self, *args, **kwargs)

    return method


# Every method the port declares, so a method added to State without being routed would show here.
for _method in port_methods(State):
    setattr(SwitchableState, _method.name, _gated(_method.name))


@pytest.fixture
async def state_app():
    backend = SwitchableState()
    app = create_app(
        {"state": {"backend": "switchable", "fallback": "memory"}, "switch": {"probe_interval": PROBE}},
        plugins=[
            plugin(
                "switchable",
                sheepfold_register_providers=lambda register: register("state", "switchable", lambda _: backend),
            )
        ],
        load_entry_points=False,
    )
    await app.start()
    yield app, backend
    await app.stop()


async def wait_for(predicate, timeout=5.0):
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def exercise(state: State) -> None:
    """Call every State method once and check its answer."""
    await state.set("a", b"1", ttl=30)
    assert await state.get_many(["a", "b"]) == {"a": b"1", "b": None}
    remaining = await state.ttl("a")
    assert remaining is not None and remaining <= 30
    assert await state.compare_and_set("a", b"1", b"2") is True
    assert await state.ttl("a") == math.inf
    assert await state.list_push("recent", b"x", max_length=2, ttl=30) == 1
    assert await state.list_range("recent") == [b"x"]


def test_the_switch_declares_every_method_of_the_port():
    names = {method.name for method in port_methods(State)}
    assert {"get_many", "ttl", "compare_and_set", "list_push", "list_range"} <= names


async def test_new_state_methods_reach_the_backend_through_the_switch(state_app):
    app, backend = state_app
    state = app.platform.require(State)
    await exercise(state)
    assert await backend.get("a") == b"2"
    assert await backend.list_range("recent") == [b"x"]


async def test_new_state_methods_fail_over_to_the_fallback_and_back(state_app):
    app, backend = state_app
    switch = app.platform.capabilities["state"]
    state = app.platform.require(State)
    backend.down = True
    await exercise(state)  # every call answered, by the fallback
    assert switch.phase is not Phase.BACKEND
    backend.down = False
    await wait_for(lambda: switch.phase is Phase.BACKEND)
    # As for set and delete: what the fallback took during the outage is not carried back.
    assert await state.get("a") is None
    assert await state.list_range("recent") == []
    assert await state.compare_and_set("a", None, b"backend") is True
    assert await backend.get("a") == b"backend"
