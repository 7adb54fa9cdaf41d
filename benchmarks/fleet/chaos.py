"""The chaos schedule: each event at its time into the load, undone ``duration`` seconds later."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fleet.scenario import ChaosEvent
from benchmarks.fleet.services import CpuHog, PostgresServer, RedisServer
from benchmarks.fleet.sides import Side


@dataclass(frozen=True)
class Happened:
    """An event as it ran: wall-clock start and end (seconds since the epoch)."""

    kind: str
    start: float
    end: float


class ChaosSchedule:
    """Runs a side's events in a thread; ``happened`` lists them once ``join`` returns."""

    def __init__(
        self,
        events: tuple[ChaosEvent, ...],
        side: Side,
        redis_server: RedisServer,
        postgres: PostgresServer,
        folder: Path,
    ) -> None:
        self.events = events
        self.side = side
        self.redis = redis_server
        self.postgres = postgres
        self.folder = folder
        self.happened: list[Happened] = []
        self._threads: list[threading.Thread] = []

    def start(self, load_start: float) -> None:
        for event in self.events:
            thread = threading.Thread(target=self._run, args=(event, load_start), name=f"chaos-{event.kind}")
            thread.start()
            self._threads.append(thread)

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _run(self, event: ChaosEvent, load_start: float) -> None:
        time.sleep(max(0.0, load_start + event.at - time.time()))
        do, undo = self._actions(event)
        if do is None:
            return  # nothing of that kind on this side (the bare app has no jobs worker)
        start = time.time()
        do()
        time.sleep(max(0.0, start + event.duration - time.time()))
        undo()
        self.happened.append(Happened(event.kind, start, time.time()))

    def _actions(self, event: ChaosEvent) -> tuple[Callable[[], None] | None, Callable[[], None]]:
        if event.kind == "redis-kill":
            return self.redis.kill, self.redis.start
        if event.kind == "postgres-restart":
            # The restart itself is the event: a fast shutdown, then start-up ("the database system is starting up").
            return self.postgres.restart, lambda: None
        if event.kind == "worker-kill":
            worker = self.side.worker
            return (None, lambda: None) if worker is None else (worker.kill, worker.start)
        if event.kind == "instance-kill":
            instance = self.side.instances[event.instance % len(self.side.instances)]
            return instance.kill, instance.start
        hogs = [CpuHog(self.folder, number) for number in range(event.processes)]

        def start_hogs() -> None:
            for hog in hogs:
                hog.start()

        def stop_hogs() -> None:
            for hog in hogs:
                hog.kill()

        return start_hogs, stop_hogs
