"""Start-up and shut-down hooks: awaited in order, failures named, shut-down always completes."""

from __future__ import annotations

import asyncio
import gc

import pytest
from blacksheep.testing import TestClient

from sheepfold import Cache, PluginError, State, create_app
from tests.kernel.plugins_for_tests import plugin


async def test_hook_startup_awaits_each_plugin_in_registration_order():
    events = []

    async def slow_start():
        await asyncio.sleep(0.05)
        events.append("first")

    app = create_app(
        load_entry_points=False,
        plugins=[
            plugin("first", sheepfold_startup=slow_start),
            plugin("second", sheepfold_startup=lambda: events.append("second")),
        ],
    )
    await app.start()
    assert events == ["first", "second"]
    await app.stop()


async def test_hook_startup_failure_names_the_plugin_and_the_hook():
    async def refuse():
        raise ConnectionRefusedError("database said no")

    app = create_app(load_entry_points=False, plugins=[plugin("db", sheepfold_startup=refuse)])
    with pytest.raises(PluginError) as error:
        await app.start()
    assert (error.value.plugin, error.value.hook) == ("db", "sheepfold_startup")
    assert "database said no" in str(error.value)


async def test_hook_shutdown_runs_in_reverse_and_survives_a_failing_plugin():
    events = []

    def broken():
        raise RuntimeError("cannot close")

    app = create_app(
        load_entry_points=False,
        plugins=[
            plugin("a", sheepfold_shutdown=lambda: events.append("a")),
            plugin("b", sheepfold_shutdown=broken),
            plugin("c", sheepfold_shutdown=lambda: events.append("c")),
        ],
    )
    await app.start()
    await app.stop()
    assert events == ["c", "a"]


async def test_platform_services_reach_handlers_by_type():
    def routes(router):
        async def handler(state: State, cache: Cache) -> dict:
            await cache.set("k", b"v")
            return {"n": await state.incr("n"), "cached": (await cache.get("k")).decode()}

        router.add_get("/di", handler)

    app = create_app(load_entry_points=False, plugins=[plugin("di", sheepfold_register_routes=routes)])
    await app.start()
    response = await TestClient(app).get("/di")
    assert await response.json() == {"n": 1, "cached": "v"}
    await app.stop()


def test_apps_built_side_by_side_share_nothing():
    first, second = create_app(load_entry_points=False), create_app(load_entry_points=False)
    assert first.router is not second.router
    assert first.platform.metrics.registry is not second.platform.metrics.registry
    assert first.platform.capabilities["state"].backend is not second.platform.capabilities["state"].backend


async def test_start_up_objects_are_frozen_out_of_the_collector_until_stop_and_the_young_generation_is_larger():
    from sheepfold.platform import YOUNG_GENERATION

    app = create_app(load_entry_points=False)
    await app.start()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == YOUNG_GENERATION
    finally:
        await app.stop()
    assert gc.get_freeze_count() == 0
