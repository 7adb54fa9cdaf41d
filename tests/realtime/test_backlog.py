"""Slow consumers: a bounded backlog per socket, the drop policy from settings, drops counted, no one else slowed."""

from __future__ import annotations

import asyncio
import json

import pytest

from sheepfold import create_app
from sheepfold.identity import ANONYMOUS
from sheepfold.tasks import BackgroundTasks
from sheepfold_realtime import RealtimeHub
from sheepfold_realtime import plugin as realtime_plugin
from sheepfold_realtime.eager import run_until_suspended
from sheepfold_realtime.socket import ClientSocket


class FakeWebSocket:
    """Records what the server sends; ``gate`` cleared makes it stall like a client that stopped reading."""

    def __init__(self, stalled: bool = False) -> None:
        self.sent: list[dict] = []
        self.close_code: int | None = None
        self.gate = asyncio.Event()
        if not stalled:
            self.gate.set()

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        message = json.loads(text)
        self.sent.extend(message if isinstance(message, list) else [message])  # a batch is a JSON array

    async def close(self, code: int) -> None:
        self.close_code = code

    def events(self) -> list:
        return [frame["data"] for frame in self.sent if frame["type"] == "event"]


@pytest.fixture
async def hub_for(request):
    apps = []

    async def build(**realtime) -> RealtimeHub:
        app = create_app({"realtime": realtime}, plugins=[realtime_plugin], load_entry_points=False)
        await app.start()
        apps.append(app)
        return RealtimeHub.of(app.platform)

    yield build
    for app in apps:
        await app.stop()


async def connect(hub: RealtimeHub, websocket: FakeWebSocket, channel: str = "platform") -> ClientSocket:
    socket = ClientSocket(websocket, ANONYMOUS, hub.settings, hub.metrics, BackgroundTasks())  # type: ignore[arg-type]
    hub.attach(socket)
    socket.start()
    await hub.join(socket, channel)
    return socket


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.mark.parametrize(
    ("policy", "kept"),
    [("drop_oldest", [0, 7, 8, 9]), ("drop_newest", [0, 1, 2, 3])],
)
async def test_a_full_backlog_drops_by_policy_counts_and_sends_resync(hub_for, policy, kept):
    hub = await hub_for(backlog=3, drop_policy=policy)
    stalled = FakeWebSocket(stalled=True)
    socket = await connect(hub, stalled)
    for number in range(10):
        await hub.publish("platform", number)
        await asyncio.sleep(0)  # the writer takes event 0 and stalls sending it
    assert socket.dropped == 6 and socket.queued == 3
    stalled.gate.set()
    await until(lambda: len(stalled.events()) == 4)
    assert stalled.events() == kept
    resync = [frame for frame in stalled.sent if frame["type"] == "resync"]
    assert resync == [{"type": "resync", "channel": "platform", "reason": "dropped", "dropped": 6}]
    seqs = [frame["seq"] for frame in stalled.sent if frame["type"] == "event"]
    assert seqs == [n + 1 for n in kept]  # the client can see the gap
    assert hub.metrics.dropped._value.get() == 6


async def test_the_close_policy_closes_a_slow_consumer_with_1013(hub_for):
    hub = await hub_for(backlog=2, drop_policy="close")
    stalled = FakeWebSocket(stalled=True)
    socket = await connect(hub, stalled)
    for number in range(5):
        await hub.publish("platform", number)
        await asyncio.sleep(0)
    await until(lambda: socket.closed.is_set())
    assert stalled.close_code == 1013


async def test_a_stalled_socket_slows_no_one_else(hub_for):
    hub = await hub_for(backlog=16)
    stalled, healthy = FakeWebSocket(stalled=True), FakeWebSocket()
    stalled_socket = await connect(hub, stalled)
    await connect(hub, healthy)
    for number in range(1000):
        await hub.publish("platform", number)
        await asyncio.sleep(0)  # a reading client drains between publishes
    await until(lambda: len(healthy.events()) == 1000)
    assert healthy.events() == list(range(1000))
    assert stalled_socket.queued == 16 and stalled_socket.dropped == 1000 - 16 - 1


async def test_a_gap_in_another_instances_numbers_sends_resync_and_own_echoes_are_dropped(hub_for):
    hub = await hub_for()
    websocket = FakeWebSocket()
    await connect(hub, websocket)
    hub._received("platform", b"other-instance\n1\n" + b'"a"')
    hub._received("platform", b"other-instance\n2\n" + b'"b"')
    hub._received("platform", b"other-instance\n4\n" + b'"d"')  # 3 was lost
    hub._received("platform", hub.instance_id.encode() + b"\n9\n" + b'"mine"')
    await until(lambda: len(websocket.events()) == 3)
    kinds = [(frame["type"], frame.get("data", frame.get("reason"))) for frame in websocket.sent]
    assert kinds == [("event", "a"), ("event", "b"), ("resync", "gap"), ("event", "d")]


@pytest.mark.parametrize("traced", [False, True], ids=["untraced", "traced"])
async def test_a_garbled_envelope_from_the_broker_is_ignored_and_a_garbled_carrier_delivered(traced):
    # Anything that can PUBLISH in the prefix may send these; an envelope not UTF-8 raised UnicodeDecodeError in
    # the broker's handler (logged with a traceback per message), and so did its origin and carrier when traced.
    plugins: list[object] = [realtime_plugin]
    if traced:
        plugins.append(pytest.importorskip("sheepfold_telemetry.plugin", reason="needs sheepfold-telemetry"))
    app = create_app({"telemetry": {"exporter": "none"}}, plugins=plugins, load_entry_points=False)
    await app.start()
    try:
        hub = RealtimeHub.of(app.platform)
        assert app.platform.propagation.enabled is traced
        websocket = FakeWebSocket()
        await connect(hub, websocket)
        for envelope in (b"other\n1\n\xff\xfe", b"other\nx\n1", b"\xff\n\xfe \xfd\n\xfc", b"", b"\n\n"):
            hub._received("platform", envelope)
        hub._received("platform", b"\xff-instance\n1 traceparent=%ff%00\xfe&baggage=\xff\n" + b'"a"')
        hub._received("platform", b"other\n2 traceparent=00-zz\n" + b'"b"')
        await until(lambda: len(websocket.events()) == 2)
        assert websocket.events() == ["a", "b"]
    finally:
        await app.stop()


async def test_a_send_run_by_hand_that_suspends_is_finished_in_a_task_and_can_be_cancelled():
    gate = asyncio.Event()
    log: list[str] = []

    async def send() -> str:
        log.append("started")
        try:
            await gate.wait()
        except asyncio.CancelledError:
            log.append("cancelled")
            raise
        log.append("finished")
        return "sent"

    async def immediate() -> None:
        log.append("immediate")

    assert run_until_suspended(immediate()) is None and log == ["immediate"]
    log.clear()
    finishing = asyncio.create_task(_await(run_until_suspended(send())))
    await asyncio.sleep(0)
    gate.set()
    assert await finishing == "sent" and log == ["started", "finished"]

    gate.clear()
    log.clear()
    cancelled = asyncio.create_task(_await(run_until_suspended(send())))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert log == ["started", "cancelled"]


async def _await(suspended):
    return await suspended
