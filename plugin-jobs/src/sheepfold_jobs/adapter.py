"""The arq adapter of the job-queue port: plain arq jobs, with priorities, statistics and a failed list beside them."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from arq.constants import expires_extra_ms
from arq.jobs import SerializationError, deserialize_result, serialize_job, serialize_result

from sheepfold.jobs import (
    FailedJob,
    JobRegistry,
    JobResult,
    JobStatistics,
    JobStatus,
    Priority,
    PriorityStatistics,
)
from sheepfold.jobs.definition import due_at, new_job_id
from sheepfold.jobs.serialization import dump_arguments
from sheepfold.jobs.statistics import QUEUE_TIME_SAMPLES, percentile
from sheepfold_jobs import keys, scripts
from sheepfold_jobs.arq_pool import arq_redis
from sheepfold_jobs.keys import BAND_WIDTH, BANDS, QueueKeys
from sheepfold_redis import RedisConnection, unavailable_on_failure

if TYPE_CHECKING:
    from sheepfold.propagation import Propagation
    from sheepfold_jobs.outage_runner import OutageRuns


class ArqJobs:
    """:class:`~sheepfold.jobs.Jobs` on Redis through arq; workers are :class:`~sheepfold_jobs.QueueWorker`.

    ``enqueue`` is one script: arq's job data and queue entry, the priority
    index entry, and a wake-up message when a worker sleeps, atomically, in
    the queue's slot (``sheepfold_jobs.keys``). Calls about a job whose
    queue is not given (``status``, ``result``, ``abort``, the failed list)
    ask every queue, in one pipeline. Every method touches Redis and raises
    ``BackendUnavailable`` while it is down. Works on one server, Sentinel
    and Cluster alike. With ``propagation``, each job's data also keeps the
    enqueuer's trace carrier (:data:`CARRIER_KEY`), which the worker continues.
    """

    def __init__(
        self,
        connection: RedisConnection,
        registry: JobRegistry,
        *,
        failed_max: int = 1000,
        propagation: Propagation | None = None,
    ) -> None:
        self.connection = connection
        #: Asked for the trace carrier each job's data keeps (``platform.propagation``); None: nothing is carried.
        self.propagation = propagation
        self.registry = registry
        self.failed_max = failed_max
        self.redis = arq_redis(connection)
        self._queue_keys: dict[str, QueueKeys] = {}
        self._enqueue = connection.script(scripts.ENQUEUE)
        self._abort = connection.script(scripts.ABORT)
        self._forget_failure = connection.script(scripts.FORGET_FAILURE)

    def keys(self, queue: str) -> QueueKeys:
        """The Redis keys of ``queue``; ``keys(queue).arq_queue`` is the arq queue name a stock worker uses."""
        found = self._queue_keys.get(queue)
        if found is None:
            found = self._queue_keys[queue] = QueueKeys.of(self.connection, queue)
        return found

    def pipeline(self) -> Any:
        """A pipeline of reads (no transaction): one round trip, per node on a Cluster."""
        return self.connection.client.pipeline(transaction=False)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None  # the connection belongs to plugin-redis, which closes it

    async def ping(self) -> None:
        await self.connection.ping()

    async def enqueue(
        self,
        function: str,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: Priority | str = Priority.NORMAL,
        delay: float | None = None,
        run_at: datetime | None = None,
        job_id: str | None = None,
        enqueued_at: float | None = None,
        carrier: dict[str, str] | None = None,
    ) -> str:
        """The port's ``enqueue``; ``enqueued_at`` (epoch seconds) and ``carrier`` (the trace it was enqueued in)
        let a spool replay keep a job's first time and trace."""
        definition = self.registry.get(function)
        args, kwargs = tuple(args), dict(kwargs or {})
        band = Priority.parse(priority)
        job_id = job_id or new_job_id()
        now = time.time()
        enqueue_ms = int((enqueued_at or now) * 1000)
        due = due_at(now, delay, run_at) * 1000
        due_ms = int(due)  # arq's queue score: whole ms
        queue_keys = self.keys(self.registry.queue_for(definition, queue))
        arq_id = queue_keys.arq_id(job_id)
        if carrier is None and self.propagation is not None:
            carrier = self.propagation.carrier()
        try:
            data = serialize_job(
                function, args, kwargs, None, enqueue_ms, serializer=_keeping(carrier) if carrier else None
            )
        except SerializationError:
            dump_arguments(function, args, kwargs)  # raises JobArgumentsError, naming the function and why
            raise
        expires = max(due_ms - int(now * 1000), 0) + expires_extra_ms
        with unavailable_on_failure():
            await self._enqueue(
                keys=[keys.job_key(arq_id), keys.result_key(arq_id), queue_keys.arq_queue, queue_keys.index,
                      queue_keys.wake, queue_keys.idle, queue_keys.timeouts],
                # The index keeps the due time's fraction of a ms (a double resolves ~4 µs at these
                # magnitudes), so jobs enqueued in the same ms keep their order.
                args=[arq_id, data, due_ms, expires, f"{band * BAND_WIDTH + due:.3f}", int(definition.timeout * 1000)],
            )  # fmt: skip
        return job_id

    async def status(self, job_id: str) -> JobStatus:
        every = [self.keys(queue) for queue in self.registry.queues()]
        with unavailable_on_failure():
            async with self.pipeline() as pipe:
                for queue_keys in every:
                    arq_id = queue_keys.arq_id(job_id)
                    pipe.exists(keys.result_key(arq_id))
                    pipe.exists(keys.in_progress_key(arq_id))
                    pipe.zscore(queue_keys.arq_queue, arq_id)
                replies = await pipe.execute()
        found = [replies[at : at + 3] for at in range(0, len(replies), 3)]
        if any(has_result for has_result, _running, _score in found):
            result = await self.result(job_id)
            return JobStatus.NOT_FOUND if result is None else JobStatus.COMPLETE if result.success else JobStatus.FAILED
        if any(running for _has_result, running, _score in found):
            return JobStatus.IN_PROGRESS
        score = next((score for _has_result, _running, score in found if score is not None), None)
        if score is None:
            return JobStatus.NOT_FOUND
        return JobStatus.DEFERRED if score > time.time() * 1000 else JobStatus.QUEUED

    async def result(self, job_id: str) -> JobResult | None:
        every = [self.keys(queue) for queue in self.registry.queues()]
        with unavailable_on_failure():
            async with self.pipeline() as pipe:
                for queue_keys in every:
                    pipe.get(keys.result_key(queue_keys.arq_id(job_id)))
                data = next((found for found in await pipe.execute() if found is not None), None)
        if data is None:
            return None
        stored = deserialize_result(data)
        error = None if stored.success else describe(stored.result)
        return JobResult(
            job_id,
            stored.function,
            stored.success,
            stored.result if stored.success else None,
            error,
            stored.job_try,
            stored.enqueue_time.timestamp(),
            stored.start_time.timestamp(),
            stored.finish_time.timestamp(),
        )

    async def abort(self, job_id: str) -> bool:
        for queue in self.registry.queues():
            queue_keys = self.keys(queue)
            arq_id = queue_keys.arq_id(job_id)
            now_ms = int(time.time() * 1000)
            with unavailable_on_failure():
                outcome = await self._abort(
                    keys=[keys.job_key(arq_id), keys.in_progress_key(arq_id), queue_keys.arq_queue, queue_keys.index,
                          queue_keys.abort, queue_keys.wake, queue_keys.timeouts],
                    args=[arq_id, now_ms],
                )  # fmt: skip
            if outcome == 1:
                return True
            if isinstance(outcome, bytes):
                await self._store_aborted(arq_id, outcome, queue, now_ms)
                return True
        return False

    async def _store_aborted(self, arq_id: str, data: bytes, queue: str, now_ms: int) -> None:
        job = pickle.loads(data)
        result = serialize_result(
            job["f"], job["a"], job["k"], job.get("t") or 0, job["et"], False,
            RuntimeError("aborted before it started"), now_ms, now_ms, arq_id, self.keys(queue).arq_queue, arq_id,
        )  # fmt: skip
        definition_keep = self.registry.get(job["f"]).keep_result
        if result is None:  # arq could not pickle even the error (it logged why): nothing to store
            return
        with unavailable_on_failure():
            await self.connection.client.set(keys.result_key(arq_id), result, px=max(int(definition_keep * 1000), 1))

    async def statistics(self, queue: str | None = None) -> JobStatistics:
        now_ms = int(time.time() * 1000)
        queues = self.registry.queues_to_count(queue)
        with unavailable_on_failure():
            async with self.pipeline() as pipe:
                for name in queues:
                    queue_keys = self.keys(name)
                    for band in BANDS:
                        low = band * BAND_WIDTH
                        pipe.zcount(queue_keys.index, low, low + now_ms)
                        pipe.zcount(queue_keys.index, f"({low + now_ms}", low + BAND_WIDTH - 1)
                        pipe.zcount(queue_keys.active[band], f"({now_ms}", "+inf")
                        pipe.lrange(queue_keys.queue_times[band], 0, QUEUE_TIME_SAMPLES - 1)
                    pipe.hgetall(queue_keys.counts)
                replies = iter(await pipe.execute())
        stats = JobStatistics()
        for name in queues:
            by_band = {}
            for _band in BANDS:
                waiting, delayed, active, times = next(replies), next(replies), next(replies), next(replies)
                samples = [float(sample) / 1000 for sample in times]
                by_band[_band] = PriorityStatistics(
                    waiting, delayed, active, queue_time_p50=percentile(samples, 0.5),
                    queue_time_p95=percentile(samples, 0.95),
                )  # fmt: skip
            counts = {name.decode(): int(value) for name, value in next(replies).items()}
            for band, entry in by_band.items():
                entry.completed = counts.get(f"completed:{band.value}", 0)
                entry.failed = counts.get(f"failed:{band.value}", 0)
            stats.queues[name] = {band.name.lower(): entry for band, entry in by_band.items()}
        return stats

    async def record_runs(self, runs: dict[tuple[str, Priority], OutageRuns]) -> None:
        """Add runs made outside a worker (during an outage) to the statistics: their ends and queue times.

        One transaction per queue (its keys share a slot), so a queue's runs
        are counted whole or not at all; each queue's entries leave ``runs``
        once recorded, so what is left when it raises is what Redis did not
        take. Touches Redis; raises ``BackendUnavailable`` while it is down.
        """
        by_queue: dict[str, list[tuple[Priority, OutageRuns]]] = {}
        for (queue, band), entry in runs.items():
            by_queue.setdefault(queue, []).append((band, entry))
        with unavailable_on_failure():
            for queue, entries in by_queue.items():
                queue_keys = self.keys(queue)
                async with self.redis.pipeline(transaction=True) as pipe:
                    for band, entry in entries:
                        if entry.queue_times_ms:  # oldest first: LPUSH leaves the newest at the head, as CLAIM does
                            pipe.lpush(queue_keys.queue_times[band], *entry.queue_times_ms)
                            pipe.ltrim(queue_keys.queue_times[band], 0, QUEUE_TIME_SAMPLES - 1)
                        if entry.completed:
                            pipe.hincrby(queue_keys.counts, f"completed:{band.value}", entry.completed)
                        if entry.failed:
                            pipe.hincrby(queue_keys.counts, f"failed:{band.value}", entry.failed)
                    await pipe.execute()
                for band, _entry in entries:
                    del runs[(queue, band)]

    async def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        """The newest ``limit`` failed jobs of every queue: each queue's newest, merged by when they failed."""
        every = [self.keys(queue) for queue in self.registry.queues()]
        limit = max(limit, 1)
        with unavailable_on_failure():
            async with self.pipeline() as pipe:
                for queue_keys in every:
                    pipe.zrevrange(queue_keys.failed, 0, limit - 1, withscores=True)
                newest = await pipe.execute()
            chosen = sorted(
                ((failed_at, index, arq_id) for index, found in enumerate(newest) for arq_id, failed_at in found),
                reverse=True,
            )[:limit]
            async with self.pipeline() as pipe:
                for _failed_at, index, arq_id in chosen:
                    pipe.hget(every[index].failed_records, arq_id)
                records = await pipe.execute()
        return [pickle.loads(record) for record in records if record is not None]

    async def failed_job(self, job_id: str) -> FailedJob | None:
        with unavailable_on_failure():
            async with self.pipeline() as pipe:
                for queue in self.registry.queues():
                    queue_keys = self.keys(queue)
                    pipe.hget(queue_keys.failed_records, queue_keys.arq_id(job_id))
                record = next((found for found in await pipe.execute() if found is not None), None)
        return None if record is None else pickle.loads(record)

    async def retry_failed(self, job_id: str) -> bool:
        failed = await self.failed_job(job_id)
        if failed is None:
            return False
        queue_keys = self.keys(failed.queue)
        arq_id = queue_keys.arq_id(job_id)
        with unavailable_on_failure():
            await self._forget_failure(
                keys=[queue_keys.failed, queue_keys.failed_records, keys.result_key(arq_id), keys.retry_key(arq_id)],
                args=[arq_id],
            )
        await self.enqueue(
            failed.function, failed.args, failed.kwargs, queue=failed.queue, priority=failed.priority, job_id=job_id
        )
        return True

    async def discard_failed(self, job_id: str) -> bool:
        failed = await self.failed_job(job_id)
        if failed is None:
            return False
        queue_keys = self.keys(failed.queue)  # one queue's keys share a slot: one transaction
        arq_id = queue_keys.arq_id(job_id)
        with unavailable_on_failure():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(queue_keys.failed, arq_id)
                pipe.hdel(queue_keys.failed_records, arq_id)
                removed, _deleted = await pipe.execute()
        return bool(removed)


#: The key of arq's job data that keeps the enqueuer's trace carrier (arq itself reads only its own keys).
CARRIER_KEY = "sheepfold_trace"


def _keeping(carrier: dict[str, str]) -> Callable[[dict[str, Any]], bytes]:
    """arq's job serializer (pickle), adding the trace ``carrier`` to the job's data."""

    def serialize(data: dict[str, Any]) -> bytes:
        return pickle.dumps({**data, CARRIER_KEY: carrier})

    return serialize


def describe(error: object) -> str:
    """``"Type: message"`` of a stored failure (arq stores the exception itself)."""
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return str(error)
