"""The fleet on one instance: its heartbeat, its record, the reader's rules (live, gone, left) and the vital signs."""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import replace

import pytest

from sheepfold import SettingsError, State, create_app
from sheepfold.fleet import InstanceRecord
from sheepfold.fleet.roster import HEARTBEATS
from sheepfold.fleet.vitals import quantile
from tests.kernel.plugins_for_tests import plugin
from tests.support.admin import ADMIN_HEADERS

FAST = {"fleet": {"heartbeat_interval": 0.1}}


def routes(router):
    async def ok() -> dict:
        return {"ok": True}

    async def crash() -> dict:
        raise RuntimeError("boom")

    router.add_get("/t/ok", ok)
    router.add_get("/t/crash", crash)


def stranger(instance: str, *, age: float = 0.0, interval: float = 0.1, leaving: bool = False) -> InstanceRecord:
    now = time.time()
    return InstanceRecord(instance, "9.9", ("example",), now - 60, now - age, interval, leaving=leaving)


async def test_an_instance_announces_itself_with_its_version_plugins_and_capabilities(sheepfold_app):
    kit = await sheepfold_app(FAST)
    instances = await kit.platform.fleet.instances()
    assert [record.instance for record in instances] == [kit.platform.instance_id]
    record = instances[0]
    assert record.version and record.plugins == tuple(sorted(kit.platform.plugins.infos))
    assert record.capabilities["state"].active == "memory" and record.capabilities["state"].phase == "backend"
    assert record.uptime >= 0 and record.interval == 0.1
    assert set(kit.platform.fleet.own_record().to_json()) >= {"instance", "version", "plugins", "uptime_seconds"}


async def test_the_reader_lists_live_instances_and_drops_those_that_missed_a_beat_or_left(sheepfold_app):
    kit = await sheepfold_app(FAST)
    state = kit.platform.require(State)
    for record in [
        stranger("live"),
        stranger("missed-a-beat", age=0.3),  # 3 intervals old: one beat missed
        stranger("left", leaving=True),
        replace(stranger("left"), sent_at=time.time() - 0.05),  # its older, live beat does not count
    ]:
        await state.list_push(HEARTBEATS, record.encode(), max_length=100)
    await state.list_push(HEARTBEATS, b"not a record", max_length=100)
    await state.list_push(HEARTBEATS, stranger("left", leaving=True).encode(), max_length=100)
    listed = [record.instance for record in await kit.platform.fleet.instances()]
    assert listed == sorted([kit.platform.instance_id, "live"])


async def test_a_fleet_larger_than_one_page_is_read_whole(sheepfold_app):
    kit = await sheepfold_app({"fleet": {"heartbeat_interval": 5.0}})
    state = kit.platform.require(State)
    names = [f"instance-{number:03d}" for number in range(150)]
    for name in names:
        await state.list_push(HEARTBEATS, stranger(name, interval=5.0).encode(), max_length=1000)
    listed = {record.instance for record in await kit.platform.fleet.instances()}
    assert listed == {*names, kit.platform.instance_id}


async def test_the_heartbeat_is_one_state_call_per_interval(sheepfold_app):
    kit = await sheepfold_app({"fleet": {"heartbeat_interval": 0.05}})
    switch = kit.platform.capabilities["state"]
    memory = switch.backend
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name):
            method = getattr(memory, name)
            if not inspect.iscoroutinefunction(method):
                return method

            async def counted(*args, **kwargs):
                calls.append(name)
                return await method(*args, **kwargs)

            return counted

    counting = Counting()
    switch.set_adapters(counting, counting)
    started = time.monotonic()
    await asyncio.sleep(0.5)
    elapsed = time.monotonic() - started
    switch.set_adapters(memory, memory)
    assert calls and set(calls) == {"list_push"}
    assert len(calls) <= elapsed / 0.05 + 1


async def test_vital_signs_count_responses_errors_and_latency_since_the_last_beat(sheepfold_app):
    with_routes = [plugin("routes", sheepfold_register_routes=routes)]
    kit = await sheepfold_app({"fleet": {"heartbeat_interval": 60}}, plugins=with_routes)
    await kit.platform.fleet.beat()
    for _ in range(8):
        assert (await kit.client.get("/t/ok")).status == 200
    for _ in range(2):
        assert (await kit.client.get("/t/crash")).status == 500
    await kit.platform.fleet.beat()
    vitals = kit.platform.fleet.own_record().vitals
    assert vitals["requests_per_second"] > 0
    assert vitals["error_rate"] == pytest.approx(0.2)
    assert vitals["latency_p95_ms"] is not None and vitals["latency_p95_ms"] > 0
    assert vitals["redis_latency_ms"] is None and vitals["websockets"] is None
    await kit.platform.fleet.beat()  # nothing answered since: no rate to tell
    vitals = kit.platform.fleet.own_record().vitals
    assert vitals["requests_per_second"] == 0 and vitals["error_rate"] is None and vitals["latency_p95_ms"] is None


def test_the_p95_is_interpolated_within_its_bucket():
    bounds = [0.01, 0.1, 1.0, float("inf")]
    assert quantile(bounds, [0, 0, 0, 0], 0.95) is None
    assert quantile(bounds, [100, 0, 0, 0], 0.95) == pytest.approx(0.0095)
    assert quantile(bounds, [50, 50, 0, 0], 0.95) == pytest.approx(0.01 + 0.09 * 45 / 50)
    assert quantile(bounds, [0, 0, 0, 10], 0.95) == 1.0


async def test_fleet_routes_are_admin_routes(sheepfold_app):
    kit = await sheepfold_app(FAST)
    assert (await kit.client.get("/-/fleet")).status == 401
    fleet = await (await kit.client.get("/-/fleet", headers=ADMIN_HEADERS)).json()
    assert fleet["shared"] is True and [entry["instance"] for entry in fleet["instances"]] == [kit.platform.instance_id]
    own = await (await kit.client.get("/-/fleet/self", headers=ADMIN_HEADERS)).json()
    assert InstanceRecord.from_json(own).instance == kit.platform.instance_id


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"fleet": {"heartbeat_interval": 0}}, "fleet.heartbeat_interval"),
        ({"fleet": {"heartbeat_interval": "often"}}, "fleet.heartbeat_interval"),
        ({"fleet": {"max_instances": 0}}, "fleet.max_instances"),
        ({"fleet": {"address": "127.0.0.1:8000"}}, "fleet.address"),
    ],
)
def test_bad_fleet_settings_stop_start_up_naming_the_key(settings, key):
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        create_app(settings, load_entry_points=False)
