"""One client's WebSocket: its identity, channels, bounded backlog and the task that writes to it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import deque

from blacksheep.server.websocket import WebSocket

from sheepfold import BackgroundTasks, Identity
from sheepfold_realtime.eager import Suspended, run_until_suspended
from sheepfold_realtime.metrics import RealtimeMetrics
from sheepfold_realtime.settings import RealtimeSettings

logger = logging.getLogger("sheepfold.realtime")

#: Control frames (answers, heartbeats, resyncs) a client may have waiting; more means it does not read.
MAX_CONTROL_FRAMES = 64
#: Frames sent together (as one JSON array) to a client that has more than one waiting.
MAX_BATCH = 64
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
#: The server failed handling a client's message (a bug, logged with its traceback).
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
#: Application close code: nothing heard from the client within the heartbeat timeout.
CLOSE_HEARTBEAT_TIMEOUT = 4408

_ids = itertools.count(1)


def control_frame(kind: str, **members: object) -> str:
    return json.dumps({"type": kind, **members}, separators=(",", ":"))


class ClientSocket:
    """A connected client. Events wait in a backlog of at most ``settings.backlog`` frames.

    :meth:`push` never waits: when the backlog is full, the drop policy
    drops the oldest or the newest event (counted on the socket and in
    ``/metrics``, and the client is sent ``resync`` for that channel after the
    events still queued) or closes the socket (1013). One writer task sends
    the frames in order, answers and heartbeats first, so a client that stops
    reading stalls only its own writer; frames that queued up while it was
    busy go out together, as one JSON array. The writer and any close started
    from synchronous code are tasks of ``tasks`` (``platform.tasks``).
    """

    def __init__(
        self,
        websocket: WebSocket,
        identity: Identity,
        settings: RealtimeSettings,
        metrics: RealtimeMetrics,
        tasks: BackgroundTasks,
    ) -> None:
        self.id = next(_ids)
        self.websocket = websocket
        self.identity = identity
        self.channels: set[str] = set()
        self.dropped = 0
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._settings = settings
        self._metrics = metrics
        self._tasks = tasks
        # Events, and resync markers (frame None) queued in stream order; markers are not counted
        # against the backlog bound, and there is at most one per channel.
        self._backlog: deque[tuple[str, str | None]] = deque()
        self._control: deque[str] = deque()
        self._resync: dict[str, str] = {}  # channel -> reason of its queued resync marker
        self._loop = asyncio.get_running_loop()
        self._wakeup: asyncio.Future[None] | None = None  # set while the writer waits for work
        self._in_flight: Suspended | None = None  # a send started by offer() that the writer finishes
        self._writer: asyncio.Task[None] | None = None
        self.last_heard = self._loop.time()

    @property
    def queued(self) -> int:
        """Events waiting to be sent."""
        return len(self._backlog) - len(self._resync)

    def start(self) -> None:
        self._writer = self._tasks.spawn(self._write_forever(), name=f"realtime-socket-{self.id}")

    def heard(self) -> None:
        """Note that the client sent something (it is alive)."""
        self.last_heard = self._loop.time()

    def push(self, channel: str, frame: str) -> None:
        """Queue an event frame of ``channel``; applies the drop policy when the backlog is full."""
        if self.close_code is not None:
            return
        backlog = self._backlog
        if len(backlog) - len(self._resync) >= self._settings.backlog:
            policy = self._settings.drop_policy
            if policy == "close":
                self.close_soon(CLOSE_TRY_AGAIN_LATER, "slow")
                return
            if policy == "drop_newest":
                self._dropped(channel)
                return
            self._drop_oldest_event()
        backlog.append((channel, frame))
        self._wake()

    def offer(self, channel: str, frame: str) -> None:
        """Send an event frame at once when the socket is idle, else :meth:`push` it.

        Idle means nothing is queued and the writer waits: the send is run by
        hand and nearly always completes on the spot; if the client's buffer
        is full it suspends, and the writer finishes it before anything else.
        """
        if self._wakeup is None or self._backlog or self._control or self.close_code is not None:
            self.push(channel, frame)
            return
        try:
            self._in_flight = run_until_suspended(self.websocket.send_text(frame))
        except Exception as error:
            # The peer went away: the receive loop sees the disconnect and cleans up.
            logger.debug("socket %s: send failed: %s", self.id, error)
            return
        if self._in_flight is not None:
            self._wake()

    def send_control(self, frame: str) -> None:
        """Queue an answer or notice, sent before any waiting event; a client that never reads is closed."""
        if self.close_code is not None:
            return
        if len(self._control) >= MAX_CONTROL_FRAMES:
            self.close_soon(CLOSE_POLICY, "policy")
            return
        self._control.append(frame)
        self._wake()

    def resync(self, channel: str, reason: str) -> None:
        """Queue ``resync`` for ``channel`` after the events already queued (one pending per channel)."""
        if channel in self.channels and channel not in self._resync:
            self._resync[channel] = reason
            self._backlog.append((channel, None))
            self._wake()

    def _wake(self) -> None:
        # A bare future rather than an asyncio.Event: this runs once per delivery.
        waiter = self._wakeup
        if waiter is not None:
            self._wakeup = None
            if not waiter.done():
                waiter.set_result(None)

    def _drop_oldest_event(self) -> None:
        backlog = self._backlog
        for index, (channel, frame) in enumerate(backlog):
            if frame is not None:
                del backlog[index]
                self._dropped(channel)
                return

    def _dropped(self, channel: str) -> None:
        self.dropped += 1
        self._metrics.dropped.inc()
        self.resync(channel, "dropped")

    def close_soon(self, code: int, reason: str) -> None:
        """Close the socket with ``code`` without waiting (from synchronous code)."""
        if self.close_code is None:
            self._tasks.spawn(self.close(code, reason), name=f"realtime-socket-{self.id}-close")

    async def close(self, code: int, reason: str) -> None:
        """Stop writing, send a close frame with ``code`` (bounded by ``close_timeout``), and mark the socket closed."""
        if self.close_code is not None:
            await self.closed.wait()
            return
        self.close_code = code
        self._metrics.closed.labels(reason).inc()
        await self._stop_writer()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._settings.close_timeout):
                while self._control:  # the reason for closing (a refusal) goes out first
                    await self.websocket.send_text(self._control.popleft())
                await self.websocket.close(code)
        self.closed.set()

    async def abandon(self) -> None:
        """The client is gone: stop writing without sending anything."""
        if self.close_code is None:
            self.close_code = 1000
        await self._stop_writer()
        self.closed.set()

    async def _stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer

    async def _write_forever(self) -> None:
        send = self.websocket.send_text
        try:
            while True:
                if not (self._control or self._backlog or self._in_flight):
                    self._wakeup = self._loop.create_future()
                    await self._wakeup
                if self._in_flight is not None:
                    in_flight, self._in_flight = self._in_flight, None
                    await in_flight
                while self._control or self._backlog:
                    if self._control:
                        await send(self._control.popleft())
                    elif len(self._backlog) == 1:
                        await send(self._next_frame())
                    else:
                        # A client that fell behind gets what waits in one message (a JSON array of frames):
                        # one send instead of many, so a loaded server delivers more, not less.
                        batch = [self._next_frame() for _ in range(min(len(self._backlog), MAX_BATCH))]
                        await send(f"[{','.join(batch)}]")
                    if self._backlog or self._control:
                        # A send to a client that keeps up completes without suspending, so a writer with
                        # a long backlog would hold the event loop until it is empty: let HTTP requests
                        # and the other sockets' writers in between frames.
                        await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # The peer went away mid-send: the receive loop sees the disconnect and cleans up.
            logger.debug("socket %s: send failed: %s", self.id, error)
            self.closed.set()

    def _next_frame(self) -> str:
        channel, frame = self._backlog.popleft()
        if frame is None:
            reason = self._resync.pop(channel)
            self._metrics.resyncs.labels(reason).inc()
            frame = control_frame("resync", channel=channel, reason=reason, dropped=self.dropped)
        return frame

    def describe(self) -> dict[str, object]:
        return {
            "id": self.id,
            "user": self.identity.subject,
            "channels": sorted(self.channels),
            "queued": self.queued,
            "dropped": self.dropped,
        }
