"""What a client may send on ``/ws``, and the error that answers anything else.

Every message is read here, once, into a :class:`ClientMessage`; a message
the protocol does not accept raises :class:`BadMessage`, which the endpoint
answers with an ``error`` frame while the socket stays open. Nothing a client
sends may end its socket without a close code: the kernel's
:func:`~sheepfold.decode_json` reads the text with the same rules as a request
body (nesting depth, integer digits, lone surrogates, ``NaN``), and JSON it
refuses is a bad message like any other.
Invalid UTF-8 cannot reach this module: the server closes such a text frame
with 1007 itself (RFC 6455), and binary frames are refused before decoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sheepfold import InvalidJSON, decode_json

#: The operations of the protocol; ``subscribe`` and ``unsubscribe`` name a channel.
OPERATIONS = frozenset({"subscribe", "unsubscribe", "ping", "pong"})
_WITH_CHANNEL = frozenset({"subscribe", "unsubscribe"})


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """An accepted message: its ``type`` (one of :data:`OPERATIONS`) and, where it names one, its channel."""

    type: str
    channel: str | None = None


class BadMessage(Exception):
    """A message the protocol does not accept: ``code`` (``bad_message``, ``too_large``) and a ``detail``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def read_message(message: Mapping[str, object], max_size: int) -> ClientMessage:
    """Read one ASGI ``websocket.receive`` message; raise :class:`BadMessage` when it is not acceptable.

    ``max_size`` is ``realtime.max_client_message``, in characters.
    """
    text = message.get("text")
    if not isinstance(text, str):
        raise BadMessage("bad_message", "binary frames are not accepted: send JSON in a text frame")
    if len(text) > max_size:
        raise BadMessage("too_large", f"message longer than {max_size} characters")
    try:
        value = decode_json(text)
    except InvalidJSON as error:
        raise BadMessage("bad_message", str(error)) from None
    if not isinstance(value, dict):
        raise BadMessage("bad_message", "a message is a JSON object")
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in OPERATIONS:
        raise BadMessage("bad_message", "type must be subscribe, unsubscribe, ping or pong")
    if kind not in _WITH_CHANNEL:
        return ClientMessage(kind)
    channel = value.get("channel")
    if not isinstance(channel, str):
        raise BadMessage("bad_message", f"{kind} needs a channel name (a string)")
    return ClientMessage(kind, channel)
