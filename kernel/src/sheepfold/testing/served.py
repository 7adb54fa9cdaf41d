"""A started app served by uvicorn on a real loopback port, with an HTTP client and WebSocket connections.

The server runs in the test's own event loop (no thread, no subprocess), so
the test can reach the app's platform directly while clients talk to it over
TCP. Needs ``httpx`` and ``websockets`` (the ``sheepfold[testing]`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import httpx
import uvicorn
import websockets

from sheepfold.app import PlatformApplication
from sheepfold.testing.apps import TestApp, started_app
from sheepfold.testing.services import spare_port


@contextlib.asynccontextmanager
async def serving(app: PlatformApplication, *, start_timeout: float = 10.0) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a spare loopback port; yields ``host:port``; stops the server on exit.

    uvicorn runs the app's lifespan: pass an app that is not started yet.
    """
    port = spare_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(start_timeout):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("uvicorn stopped before it started serving")
                await asyncio.sleep(0.01)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(15):
            await task


class ServedApp(TestApp):
    """A :class:`TestApp` also served on ``address`` (``127.0.0.1:<port>``).

    :attr:`http` is an ``httpx.AsyncClient`` on it (cookies persist between
    requests); :meth:`websocket` opens a WebSocket connection.
    """

    def __init__(self, app: PlatformApplication, address: str, http: httpx.AsyncClient) -> None:
        super().__init__(app)
        self.address = address
        self.url = f"http://{address}"
        self.http = http

    def websocket(
        self, path: str = "/ws", headers: Mapping[str, str] | None = None, **options: Any
    ) -> websockets.connect:
        """``async with served.websocket("/ws") as connection:``; ``headers`` go with the handshake (a cookie)."""
        return websockets.connect(f"ws://{self.address}{path}", additional_headers=headers, **options)


@contextlib.asynccontextmanager
async def served_app(
    settings: Mapping[str, Any] | None = None,
    plugins: Iterable[object] = (),
    **options: Any,
) -> AsyncIterator[ServedApp]:
    """:func:`~sheepfold.testing.apps.started_app` (same arguments), served on a real port; stopped on exit.

    The app is started (and checked, when strict) before uvicorn serves it;
    uvicorn's lifespan then finds it started.
    """
    async with (
        started_app(settings, plugins, **options) as test_app,
        serving(test_app.app) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        yield ServedApp(test_app.app, address, http)
