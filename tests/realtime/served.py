"""A WebSocket client of the realtime protocol; serving an app is the kit's (``sheepfold.testing.served``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets

from sheepfold.testing.served import serving

__all__ = ["Client", "serving"]


class Client:
    """A WebSocket client speaking the realtime protocol; ``frames`` holds every frame received, parsed."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.frames: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, address: str, **options: Any) -> AsyncIterator[Client]:
        async with websockets.connect(f"ws://{address}/ws", **options) as connection:
            client = cls(connection)
            try:
                await client.wait_for("welcome")
                yield client
            finally:
                client._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await client._reader

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.connection:
                message = json.loads(raw)
                self.frames.extend(message if isinstance(message, list) else [message])  # a batch is a JSON array

    async def send(self, **message: Any) -> None:
        await self.connection.send(json.dumps(message))

    def of(self, kind: str, channel: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind and (channel is None or f.get("channel") == channel)]

    async def wait_for(self, kind: str, count: int = 1, channel: str | None = None, timeout: float = 5.0):
        async with asyncio.timeout(timeout):
            while len(self.of(kind, channel)) < count:
                await asyncio.sleep(0.005)
        return self.of(kind, channel)

    async def subscribe(self, channel: str) -> None:
        before = len(self.of("subscribed", channel))
        await self.send(type="subscribe", channel=channel)
        await self.wait_for("subscribed", before + 1, channel)

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Wait for the server to close the socket; its close code."""
        async with asyncio.timeout(timeout):
            await self.connection.wait_closed()
        return self.connection.close_code
