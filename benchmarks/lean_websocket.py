"""A WebSocket client that only receives and timestamps: the realtime benchmark's measuring instrument.

A client built on the ``websockets`` library spends tens of microseconds of
Python per message (frame parsing, UTF-8 checks, its queue, an async
iteration, ``json.loads``). With 1,000 sockets on the same two cores as the
servers, draining one fan-out then takes longer than the servers take to
send it, and the latency measured is the client's. This one notes the time
when a chunk of bytes arrives, cuts it into frames and keeps the payloads;
JSON is parsed after the run. It offers per-message deflate like a browser
(the server decides) and answers pings.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
import zlib

_DEFLATE_TAIL = b"\x00\x00\xff\xff"


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (clients must mask), payloads under 126 bytes."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def upgrade_request(address: str, *, offer_deflate: bool) -> bytes:
    """The opening handshake's request for ``ws://address/ws``."""
    key = base64.b64encode(os.urandom(16)).decode()
    extensions = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if offer_deflate else ""
    return (
        f"GET /ws HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n"
    ).encode()


class ReceivingSocket(asyncio.Protocol):
    """Connects to ``ws://address/ws``; :attr:`received` holds ``(arrival time, text payload)`` per message.

    :attr:`ready` is done once the handshake is complete and, with a
    ``first_message``, once a message containing ``ready_marker`` arrived.
    """

    def __init__(self, address: str, first_message: bytes | None, ready_marker: bytes) -> None:
        self.address = address
        self.first_message = first_message
        self.ready_marker = ready_marker
        self.received: list[tuple[float, bytes]] = []
        self.ready = asyncio.get_running_loop().create_future()
        self._open = False
        self._transport: asyncio.Transport | None = None
        self._handshake = b""
        self._buffer = b""
        self._inflate: zlib._Decompress | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        transport.write(upgrade_request(self.address, offer_deflate=True))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        arrived = time.time()
        if not self._open:
            self._handshake += data
            head, found, rest = self._handshake.partition(b"\r\n\r\n")
            if not found:
                return
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.ready.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                return
            self._open = True
            if b"permessage-deflate" in head.lower():
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            if self.first_message is None:
                self.ready.set_result(None)
            else:
                self._transport.write(client_frame(0x1, self.first_message))  # type: ignore[union-attr]
            data = rest
        buffer = self._buffer + data if self._buffer else data
        at = 0
        end = len(buffer)
        while end - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            length = second & 0x7F
            header = 2
            if length == 126:
                if end - at < 4:
                    break
                length = struct.unpack_from("!H", buffer, at + 2)[0]
                header = 4
            elif length == 127:
                if end - at < 10:
                    break
                length = struct.unpack_from("!Q", buffer, at + 2)[0]
                header = 10
            if end - at < header + length:
                break
            payload = buffer[at + header : at + header + length]
            at += header + length
            opcode = first & 0x0F
            if opcode == 0x1:
                if first & 0x40 and self._inflate is not None:  # RSV1: a compressed message
                    payload = self._inflate.decompress(payload + _DEFLATE_TAIL)
                self.received.append((arrived, payload))
                if not self.ready.done() and self.ready_marker in payload:
                    self.ready.set_result(None)
            elif opcode == 0x9:
                self._transport.write(client_frame(0xA, payload))  # type: ignore[union-attr]
        self._buffer = buffer[at:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed before it was ready"))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def connect(address: str, first_message: bytes | None = None, ready_marker: bytes = b"") -> ReceivingSocket:
    """A socket to ``address`` (``host:port``), ready (see :class:`ReceivingSocket`)."""
    host, port = address.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    _transport, socket = await loop.create_connection(
        lambda: ReceivingSocket(address, first_message, ready_marker), host, int(port)
    )
    await socket.ready
    return socket
