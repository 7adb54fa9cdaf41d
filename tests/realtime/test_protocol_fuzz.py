"""No silent socket drop: whatever a client sends on ``/ws``, it is answered or closed with a code.

A hypothesis-driven fuzz over the protocol against a served app: each example opens a socket and
sends a generated sequence of frames (arbitrary bytes as binary frames, arbitrary bytes as text
frames, generated JSON values, deeply nested and huge-number texts, wrong types, oversize
messages, valid operations mixed in), then a ``ping``. Every frame but a ``pong`` must get exactly
one answer (``error``, ``subscribed``, ``unsubscribed`` or ``pong``) unless the server closed the
socket with a documented code. A bystander socket connected all along must still receive each
published event, and nothing may be logged above INFO or with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sheepfold import hookimpl
from sheepfold_realtime import ChannelRule, RealtimeHub
from sheepfold_realtime.protocol import BadMessage, read_message
from tests.realtime.app_for_tests import realtime_settings, served
from tests.realtime.served import Client

#: Raised from the default so that integers beyond Python's 4300-digit limit fit in a message.
MAX_MESSAGE = 12_000
#: The close codes the protocol documents for a client's mistakes (docs/realtime.md).
DOCUMENTED_CLOSE_CODES = {1007, 1008, 1009}
ANSWERS = {"error", "subscribed", "unsubscribed", "pong"}

Frame = tuple[str, Any]  # ("text", str) | ("binary", bytes) | ("raw_text", bytes: possibly invalid UTF-8)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    # Any code point, lone surrogates included: json.dumps escapes them ("\ud800"), as a hostile client would.
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
channels = st.sampled_from(["platform", "orders:1", "nope", "", "user:x", "platform:\ud800"]) | json_values
operations = st.sampled_from(["subscribe", "unsubscribe", "ping", "pong", "dance", ""]) | json_values


def _text(value: Any) -> Frame:
    return ("text", json.dumps(value))


def _nested(depth: int, open_: str, close: str, inner: str) -> Frame:
    return ("text", open_ * depth + inner + close * depth)


frames: st.SearchStrategy[Frame] = st.one_of(
    st.builds(lambda kind, channel: _text({"type": kind, "channel": channel}), operations, channels),
    st.builds(
        _text, st.sampled_from([{"type": "ping"}, {"type": "pong"}, {"type": "subscribe", "channel": "platform"}])
    ),
    st.builds(_text, json_values),
    st.builds(_nested, st.integers(1, 5000), st.just("["), st.just("]"), st.just("")),
    st.builds(_nested, st.integers(1, 2000), st.just('{"type":'), st.just("}"), st.just("1")),
    st.builds(lambda digits: ("text", '{"type": "ping", "n": ' + "9" * digits + "}"), st.integers(1, 11_000)),
    st.builds(lambda size: ("text", "x" * size), st.sampled_from([MAX_MESSAGE + 1, 3 * MAX_MESSAGE])),
    st.text(max_size=40).map(lambda text: ("text", text)),
    st.binary(max_size=64).map(lambda data: ("binary", data)),
    st.builds(lambda value: ("binary", json.dumps(value).encode()), json_values),
    st.binary(max_size=64).map(lambda data: ("raw_text", data)),
)


def expects_answer(frame: Frame) -> bool:
    """Every frame is answered except a well-formed pong (the answer to a heartbeat)."""
    kind, payload = frame
    if kind != "text":
        return True
    try:
        return read_message({"text": payload}, MAX_MESSAGE).type != "pong"
    except BadMessage:
        return True


@pytest.fixture
async def realtime() -> AsyncIterator[tuple[str, RealtimeHub, Client]]:
    """A served app and a bystander socket on ``platform``, for the whole test (every example)."""
    settings = realtime_settings(realtime={"max_client_message": MAX_MESSAGE})
    async with served(settings) as (address, app), Client.connect(address) as bystander:
        await bystander.subscribe("platform")
        yield address, RealtimeHub.of(app.platform), bystander


def answered(client: Client) -> list[dict[str, Any]]:
    return [frame for frame in client.frames if frame["type"] in ANSWERS]


async def _answered_or_closed(address: str, sent: list[Frame]) -> None:
    async with Client.connect(address) as client:
        expected = 0
        with contextlib.suppress(websockets.ConnectionClosed):
            for kind, payload in [*sent, ("text", '{"type": "ping"}')]:
                if kind == "raw_text":
                    await client.connection.send(payload, text=True)
                else:
                    await client.connection.send(payload)
                expected += expects_answer((kind, payload))
        # Answers arrive in order; stop at the last one expected, or at the close.
        deadline = asyncio.get_running_loop().time() + 10
        while len(answered(client)) < expected and client.connection.close_code is None:
            assert asyncio.get_running_loop().time() < deadline, (sent, client.frames)
            await asyncio.sleep(0.005)
        answers = answered(client)
        code = client.connection.close_code
        if code is None:
            assert len(answers) == expected, (sent, client.frames)
        else:
            # Closed by the server: with a documented code, each frame before the close answered.
            assert code in DOCUMENTED_CLOSE_CODES, (code, sent, client.frames)
            assert len(answers) <= expected, (sent, client.frames)


def _no_fault_logged(caplog: pytest.LogCaptureFixture) -> None:
    loud = [r for r in caplog.records if r.levelno > logging.INFO or r.exc_info]
    assert not loud, [(r.name, r.levelname, r.getMessage()) for r in loud]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sent=st.lists(frames, min_size=1, max_size=6))
# The classes that once dropped a socket or were never tried, always run first.
@example(sent=[("text", "[" * 3000 + "]" * 3000)])
@example(sent=[("text", '{"type": "ping", "n": ' + "9" * 5000 + "}")])
@example(sent=[("raw_text", b'{"type": "\xff"}')])
@example(sent=[("text", '{"type": "subscribe", "channel": "orders:\\ud800"}')])
@example(sent=[("text", '{"type": ["ping"]}'), ("text", '{"type": {"a": 1}}')])
@example(sent=[("text", '{"type": "unsubscribe", "channel": {"deep": [[[1]]]}}')])
@example(sent=[("binary", b'{"type": "ping"}'), ("text", "x" * (MAX_MESSAGE + 1))])
async def test_every_frame_is_answered_or_closed_with_a_code_and_bystanders_are_unaffected(
    realtime, caplog, sent: list[Frame]
):
    address, hub, bystander = realtime
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    await _answered_or_closed(address, sent)
    before = len(bystander.of("event"))
    await hub.publish("platform", {"after": len(sent)})
    await bystander.wait_for("event", before + 1)
    _no_fault_logged(caplog)


async def test_a_frame_over_the_servers_own_limit_is_closed_with_1009():
    # uvicorn's --ws-max-size (16 MiB by default) rejects the frame before the app sees it.
    async with served() as (address, _app), Client.connect(address) as client:
        await client.connection.send("x" * (16 * 1024 * 1024 + 1))
        assert await client.closed() == 1009


async def test_bad_messages_are_counted_by_code():
    async with served() as (address, app), Client.connect(address) as client:
        await client.connection.send("[" * 3000)
        await client.connection.send(b"binary")
        await client.connection.send("x" * 5000)
        errors = await client.wait_for("error", 3)
        assert [e["code"] for e in errors] == ["bad_message", "bad_message", "too_large"]
        counted = app.platform.metrics.registry.get_sample_value
        assert counted("sheepfold_realtime_bad_messages_total", {"code": "bad_message"}) == 2
        assert counted("sheepfold_realtime_bad_messages_total", {"code": "too_large"}) == 1


class FaultyRule:
    """A plugin whose channel rule fails: a fault of the server, not of the client's message."""

    @hookimpl
    def sheepfold_realtime_channels(self) -> list[ChannelRule]:
        def authorize(_identity: object, _channel: str) -> bool:
            raise RuntimeError("the rule's own bug")

        return [ChannelRule("faulty", authorize)]


async def test_a_server_fault_while_handling_a_message_closes_with_1011_and_is_logged(caplog):
    async with served(realtime_settings(), FaultyRule()) as (address, _app), Client.connect(address) as client:
        await client.send(type="subscribe", channel="faulty")
        assert await client.closed() == 1011
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records if r.name == "sheepfold.realtime")
