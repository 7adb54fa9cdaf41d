"""The baseline of ``benchmarks/realtime.py``: bare BlackSheep WebSockets fed by a raw redis-py subscriber.

Every socket that connects to ``/ws`` is kept in a set; one task reads the Redis
channel ``BENCH_CHANNEL`` and sends each message to every socket in turn, the
way the BlackSheep and redis-py documentation put the two together. ``GET /ping``
is the HTTP route whose latency the benchmark watches under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import redis.asyncio as redis
from blacksheep import Application, Router, text
from blacksheep.server.websocket import WebSocket, WebSocketDisconnectError

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL = os.environ.get("BENCH_CHANNEL", "bench")

router = Router()
app = Application(router=router)
sockets: set[WebSocket] = set()


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    sockets.add(websocket)
    try:
        while True:
            await websocket.receive()
    except WebSocketDisconnectError:
        pass
    finally:
        sockets.discard(websocket)


async def ping() -> object:
    return text("pong")


async def forward() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    pubsub = client.pubsub()
    await pubsub.subscribe(CHANNEL)
    async for message in pubsub.listen():
        if message["type"] != "message":
            continue
        frame = message["data"].decode()
        for websocket in list(sockets):
            try:
                await websocket.send_text(frame)
            except Exception:
                sockets.discard(websocket)


forwarder: list[asyncio.Task[None]] = []


async def start(_app: Application) -> None:
    forwarder.append(asyncio.create_task(forward()))


async def stop(_app: Application) -> None:
    for task in forwarder:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


router.add_ws("/ws", ws)
router.add_get("/ping", ping)
app.on_start += start
app.on_stop += stop
