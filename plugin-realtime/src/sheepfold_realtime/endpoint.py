"""The ``/ws`` endpoint: handshake checks, the message protocol, heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from blacksheep.server.websocket import WebSocket, WebSocketDisconnectError

from sheepfold.platform import Platform
from sheepfold.pubsub import PubSubChannelLimit
from sheepfold_realtime.channels import ChannelRules
from sheepfold_realtime.hub import RealtimeHub
from sheepfold_realtime.origin import origin_allowed
from sheepfold_realtime.protocol import BadMessage, ClientMessage, read_message
from sheepfold_realtime.socket import (
    CLOSE_HEARTBEAT_TIMEOUT,
    CLOSE_INTERNAL_ERROR,
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
        identity = await self.platform.identify(websocket)  # once, at the handshake: fixed for the socket's life
        await websocket.accept()
        socket = ClientSocket(websocket, identity, settings, self.hub.metrics, self.platform.tasks)
        self.hub.attach(socket)
        socket.start()
        socket.send_control(control_frame("welcome", user=identity.subject, instance=self.hub.instance_id))
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
        max_size = self.settings.max_client_message
        refused = 0
        with contextlib.suppress(WebSocketDisconnectError):
            while socket.close_code is None:
                message = await websocket.receive()
                socket.heard()
                try:
                    request = read_message(message, max_size)
                except BadMessage as bad:
                    refused += 1
                    self._refuse(socket, bad, first=refused == 1)
                    continue
                try:
                    await self._handle(socket, request)
                except Exception:
                    # A fault of the server, not of the message: said once, with its traceback, and the
                    # client learns it from the close code instead of a silent drop.
                    logger.exception("socket %s: failed to handle %r; closing with 1011", socket.id, request)
                    await socket.close(CLOSE_INTERNAL_ERROR, "error")
                    return

    def _refuse(self, socket: ClientSocket, bad: BadMessage, *, first: bool) -> None:
        # The client's mistake, not the server's: no traceback, and only the first one of a socket at
        # INFO, so a client sending garbage in a loop cannot flood the log.
        logger.log(logging.INFO if first else logging.DEBUG, "socket %s: %s", socket.id, bad)
        self.hub.metrics.bad_messages.labels(bad.code).inc()
        socket.send_control(control_frame("error", code=bad.code, detail=bad.detail))

    async def _handle(self, socket: ClientSocket, message: ClientMessage) -> None:
        kind = message.type
        if kind == "subscribe":
            await self._subscribe(socket, message.channel)
        elif kind == "unsubscribe":
            channel = message.channel
            if channel in socket.channels:
                await self.hub.leave(socket, channel)
            socket.send_control(control_frame("unsubscribed", channel=channel))
        elif kind == "ping":
            socket.send_control(control_frame("pong"))
        # "pong" answers a heartbeat; hearing it is all it is for.

    async def _subscribe(self, socket: ClientSocket, channel: str | None) -> None:
        if channel is None or not self.rules.allows(socket.identity, channel):
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
