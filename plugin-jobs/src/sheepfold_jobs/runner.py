"""Running the workers of several queues in one process: ``sheepfold worker`` and the server's embedded worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub

from sheepfold.tasks import BackgroundTasks
from sheepfold_jobs.adapter import ArqJobs
from sheepfold_jobs.outage_log import OutageLog
from sheepfold_jobs.worker import REDIS_DOWN, QueueWorker
from sheepfold_redis import RedisConnection

if TYPE_CHECKING:
    from sheepfold.platform import Platform

logger = logging.getLogger("sheepfold.jobs.worker")

#: Seconds between attempts at subscribing again after the wake-up subscription failed.
RESUBSCRIBE_INTERVAL = 1.0


class WorkerPool:
    """One :class:`QueueWorker` per queue, and one pub/sub subscription that wakes them.

    The subscription is the only connection held for long (it waits for
    messages); every other command borrows from the shared pool. The
    subscription, each worker's main loop and every job it runs are tasks of
    ``platform.tasks`` (of a private :class:`~sheepfold.tasks.BackgroundTasks`
    without a platform); :meth:`stop` ends them.
    """

    def __init__(
        self,
        jobs: ArqJobs,
        queues: list[str],
        *,
        idle_poll: float = 1.0,
        crash_margin: float = 10.0,
        shutdown_grace: float = 10.0,
        platform: Platform | None = None,
    ) -> None:
        self.jobs = jobs
        self.shutdown_grace = shutdown_grace
        self.tasks = platform.tasks if platform is not None else BackgroundTasks()
        self.workers = {
            queue: QueueWorker(
                jobs,
                queue,
                concurrency=jobs.registry.concurrency(queue),
                idle_poll=idle_poll,
                crash_margin=crash_margin,
                tasks=self.tasks,
                platform=platform,
            )
            for queue in queues
        }
        self._channels = {worker.queue_keys.wake.encode(): worker for worker in self.workers.values()}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._outage = OutageLog(
            logger,
            "job wake-up subscription",
            attempt="attempt",
            retrying=f"subscribing every {RESUBSCRIBE_INTERVAL:g} s",
        )

    def start(self) -> None:
        self._loops = [self.tasks.spawn(self._listen(), name="sheepfold-jobs-wake")]
        for queue, worker in self.workers.items():
            worker.main_task = self.tasks.spawn(worker.main(), name=f"sheepfold-jobs-{queue}")
            self._loops.append(worker.main_task)
        logger.info("job workers started for queues: %s", ", ".join(self.workers))

    async def stop(self) -> None:
        """Stop claiming, give running jobs ``shutdown_grace`` seconds, cancel the rest (they run again later)."""
        self._stopping = True
        for worker in self.workers.values():
            worker.stop_claiming()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        await asyncio.gather(*(worker.stop(self.shutdown_grace) for worker in self.workers.values()))

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                async with wake_subscription(self.jobs.connection) as pubsub:
                    await pubsub.subscribe(*self._channels)
                    self._outage.answered()
                    for worker in self.workers.values():
                        worker.wake.set()  # anything enqueued while we were not listening
                    while not self._stopping:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                        if message is not None:
                            woken = self._channels.get(message["channel"])
                            if woken is not None:
                                woken.wake.set()
            except REDIS_DOWN as error:
                if not self._stopping:
                    self._outage.failed(error)
                    await asyncio.sleep(RESUBSCRIBE_INTERVAL)
            except Exception:
                if not self._stopping:
                    # Not an outage: a fault worth its traceback at every attempt.
                    logger.warning("job wake-up subscription failed; retrying", exc_info=True)
                    await asyncio.sleep(RESUBSCRIBE_INTERVAL)


def worker_pool(platform: Platform, queues: list[str] | None = None) -> WorkerPool | None:
    """Workers for ``queues`` (default: ``jobs.worker.queues``, else every queue), or None without the arq backend."""
    switch = platform.capabilities.get("jobs")
    backend = switch.adapter_as(ArqJobs) if switch is not None else None
    if backend is None:
        return None
    settings = platform.settings
    chosen = queues or settings.get("jobs.worker.queues") or backend.registry.queues()
    return WorkerPool(
        backend,
        chosen,
        idle_poll=settings.get("jobs.worker.idle_poll"),
        crash_margin=settings.get("jobs.worker.crash_margin"),
        shutdown_grace=settings.get("jobs.worker.shutdown_grace"),
        platform=platform,
    )


@contextlib.asynccontextmanager
async def wake_subscription(connection: RedisConnection) -> AsyncIterator[PubSub]:
    """A pub/sub for the queues' wake channels, closed (with any client of its own) on the way out.

    On one server, the shared client's. A Cluster relays a ``PUBLISH`` to
    every node, so there it is a client of its own on any one node (the
    cluster client has no pub/sub), with the shared connection's options.
    """
    client = connection.client
    own: Redis | None = None
    if isinstance(client, Redis):
        pubsub = client.pubsub()
    else:
        await client.initialize()  # the nodes are known once the cluster client has asked for them
        node = client.get_random_node()
        own = Redis.from_pool(ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs))
        pubsub = own.pubsub()
    try:
        yield pubsub
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        if own is not None:
            with contextlib.suppress(Exception):
                await own.aclose()
