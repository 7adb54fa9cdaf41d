"""An asyncio TCP proxy in front of a server that can delay, swallow or reset traffic.

Tests put it between sheepfold and a redis-server they own, then switch its
:attr:`FaultProxy.mode` to show how the platform copes with a slow peer, a
silent peer (accepts, reads, never answers), or one that resets every
connection. It runs in the test's own event loop and, on :meth:`close`,
cancels and awaits every task it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from enum import StrEnum


class Fault(StrEnum):
    NONE = "none"  # forward both ways
    LATENCY = "latency"  # forward, each chunk after `latency` seconds
    SILENT = "silent"  # read from the client, forward nothing, answer nothing
    RESET = "reset"  # reset every connection (TCP RST) as soon as it is used


class FaultProxy:
    """Listens on ``127.0.0.1:<port>`` and forwards to ``127.0.0.1:<upstream_port>`` according to :attr:`mode`.

    Changing :attr:`mode` applies to traffic from then on, on open connections
    too. :attr:`tasks` holds every task it runs, so a test can check that
    nothing is left behind.
    """

    def __init__(self, upstream_port: int, *, latency: float = 1.0) -> None:
        self.upstream_port = upstream_port
        self.latency = latency
        self.mode = Fault.NONE
        self.port = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening, drop every connection, and await every task this proxy started."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            _reset(writer)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._writers.add(client_writer)
        if self.mode is Fault.RESET:
            _reset(client_writer)
            self._writers.discard(client_writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            _reset(client_writer)
            self._writers.discard(client_writer)
            return
        self._writers.add(upstream_writer)
        self._spawn(self._pipe(client_reader, upstream_writer, client_writer))
        self._spawn(self._pipe(upstream_reader, client_writer, upstream_writer))

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, peer: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                if self.mode is Fault.RESET:
                    _reset(sink)
                    _reset(peer)
                    return
                if self.mode is Fault.SILENT:
                    continue
                if self.mode is Fault.LATENCY:
                    await asyncio.sleep(self.latency)
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(sink)
            with contextlib.suppress(Exception):
                sink.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST instead of a FIN (SO_LINGER 0), as a crashed peer or a firewall would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
