"""The ``/ws`` endpoint: handshake checks, the message protocol, heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from blacksheep.server.websocket import WebSocket, WebSocketDisconnectError

from sheepfold.platform import Platform
from sheepfold.pubsub import PubSubChannelLimit
from sheepfold_realtime.channels import ChannelRules
from sheepfold_realtime.hub import RealtimeHub
from sheepfold_realtime.identity import identity_of
from sheepfold_realtime.origin import origin_allowed
from sheepfold_realtime.socket import (
    CLOSE_HEARTBEAT_TIMEOUT,
    CLOSE_POLICY,
    ClientSocket,
    control_frame,
)

logger = logging.getLogger("sheepfold.realtime")


class RealtimeEndpoint:
    """Serves one WebSocket per call: the handler of ``realtime.path`` (``/ws``)."""

    def __init__(self, platform: Platform, hub: RealtimeHub, rules: ChannelRules) -> None:
        self.platform = platform
        self.hub = hub
        self.rules = rules
        self.settings = hub.settings

    async def __call__(self, websocket: WebSocket) -> None:
        settings = self.settings
        if not origin_allowed(websocket, settings.allowed_origins, allow_missing=settings.allow_missing_origin):
            # Closing before accepting answers the handshake with 403: the socket never opens.
            await websocket.close(CLOSE_POLICY)
            return
        identity = await identity_of(websocket, self.platform, settings.roles_key)
        await websocket.accept()
        socket = ClientSocket(websocket, identity, settings, self.hub.metrics, self.platform.tasks)
        self.hub.attach(socket)
        socket.start()
        socket.send_control(control_frame("welcome", user=identity.user, instance=self.hub.instance_id))
        # Tasks of the platform, so that its stop ends them (and this handler) even if nothing closed the socket.
        spawn, name = self.platform.tasks.spawn, f"realtime-socket-{socket.id}"
        tasks = [
            spawn(self._receive(socket), name=f"{name}-receive"),
            spawn(self._heartbeat(socket), name=f"{name}-heartbeat"),
            spawn(socket.closed.wait(), name=f"{name}-closed"),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if socket.close_code is None:
                await socket.abandon()
            else:
                await socket.closed.wait()
            await self.hub.detach(socket)

    async def _receive(self, socket: ClientSocket) -> None:
        websocket = socket.websocket
        with contextlib.suppress(WebSocketDisconnectError):
            while socket.close_code is None:
                message = await websocket.receive()
                socket.heard()
                raw = message.get("text")
                if raw is None:
                    raw = (message.get("bytes") or b"").decode("utf-8", errors="replace")
                await self._handle(socket, raw)

    async def _handle(self, socket: ClientSocket, raw: str) -> None:
        if len(raw) > self.settings.max_client_message:
            socket.send_control(control_frame("error", code="too_large", detail="message too large"))
            return
        try:
            message: Any = json.loads(raw)
        except ValueError:
            socket.send_control(control_frame("error", code="bad_message", detail="not JSON"))
            return
        kind = message.get("type") if isinstance(message, dict) else None
        channel = message.get("channel") if isinstance(message, dict) else None
        if kind == "subscribe":
            await self._subscribe(socket, channel)
        elif kind == "unsubscribe":
            if isinstance(channel, str) and channel in socket.channels:
                await self.hub.leave(socket, channel)
            socket.send_control(control_frame("unsubscribed", channel=channel))
        elif kind in {"pong", "ping"}:
            if kind == "ping":
                socket.send_control(control_frame("pong"))
        else:
            socket.send_control(
                control_frame("error", code="bad_message", detail="type must be subscribe, unsubscribe or pong")
            )

    async def _subscribe(self, socket: ClientSocket, channel: object) -> None:
        if not isinstance(channel, str) or not self.rules.allows(socket.identity, channel):
            # No subscription without its rule passing; the refusal ends the socket (1008, policy violation).
            self.hub.metrics.refused.inc()
            socket.send_control(control_frame("error", code="forbidden", channel=channel))
            socket.close_soon(CLOSE_POLICY, "policy")
            return
        if channel not in socket.channels and len(socket.channels) >= self.settings.max_subscriptions:
            socket.send_control(control_frame("error", code="too_many_subscriptions", channel=channel))
            return
        try:
            seq = await self.hub.join(socket, channel)
        except PubSubChannelLimit:
            socket.send_control(control_frame("error", code="too_many_channels", channel=channel))
            return
        socket.send_control(control_frame("subscribed", channel=channel, seq=seq))

    async def _heartbeat(self, socket: ClientSocket) -> None:
        settings = self.settings
        loop = asyncio.get_running_loop()
        while socket.close_code is None:
            await asyncio.sleep(settings.heartbeat_interval)
            if loop.time() - socket.last_heard > settings.heartbeat_timeout:
                logger.info("socket %s: nothing heard for %.0f s; closing", socket.id, settings.heartbeat_timeout)
                await socket.close(CLOSE_HEARTBEAT_TIMEOUT, "heartbeat")
                return
            socket.send_control(control_frame("heartbeat"))
