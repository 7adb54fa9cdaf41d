"""Reading client messages (``sheepfold_realtime.protocol``): what is accepted, and the error for the rest."""

from __future__ import annotations

import pytest

from sheepfold_realtime.channels import valid_channel
from sheepfold_realtime.protocol import BadMessage, ClientMessage, read_message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "subscribe", "channel": "platform"}', ClientMessage("subscribe", "platform")),
        ('{"type": "unsubscribe", "channel": "orders:1", "extra": [1]}', ClientMessage("unsubscribe", "orders:1")),
        ('{"type": "ping"}', ClientMessage("ping")),
        ('{"type": "pong", "channel": 5}', ClientMessage("pong")),
    ],
)
def test_the_operations_are_read(text, expected):
    assert read_message({"type": "websocket.receive", "text": text}, 4096) == expected


@pytest.mark.parametrize(
    ("message", "code", "detail"),
    [
        ({"text": "[" * 5000}, "too_large", "longer than 4096"),
        ({"text": "[" * 2000 + "]" * 2000}, "bad_message", "nests deeper than 64 levels"),
        ({"text": "not json"}, "bad_message", "invalid JSON at line 1, column 1"),
        ({"text": '"\\ud800"'}, "bad_message", "lone UTF-16 surrogate"),
        ({"text": "[]"}, "bad_message", "a JSON object"),
        ({"text": '{"type": ["ping"]}'}, "bad_message", "type must be"),
        ({"text": '{"type": "dance"}'}, "bad_message", "type must be"),
        ({"text": '{"type": "subscribe"}'}, "bad_message", "needs a channel"),
        ({"text": '{"type": "unsubscribe", "channel": {"a": [1]}}'}, "bad_message", "needs a channel"),
        ({"bytes": b'{"type": "ping"}'}, "bad_message", "binary frames"),
    ],
)
def test_anything_else_is_a_bad_message_naming_the_problem(message, code, detail):
    with pytest.raises(BadMessage) as raised:
        read_message(message, 4096)
    assert raised.value.code == code and detail in raised.value.detail


def test_the_digit_limit_is_a_bad_message_when_the_size_limit_allows_such_numbers():
    with pytest.raises(BadMessage, match="more than 4300 digits"):
        read_message({"text": '{"type": "ping", "n": ' + "9" * 5000 + "}"}, 100_000)


def test_a_channel_name_with_a_lone_surrogate_is_not_valid():
    # JSON's "\ud800" decodes to one; such a name cannot be encoded to UTF-8 for Redis.
    assert not valid_channel("orders:\ud800")
    assert valid_channel("orders:é")
