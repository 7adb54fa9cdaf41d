"""The in-process job runner: the memory adapter of the job-queue port, bounded, with an eager mode for tests."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sheepfold.jobs.definition import JobContext, JobDefinition, Priority, due_at, new_job_id
from sheepfold.jobs.errors import JobQueueFull
from sheepfold.jobs.port import FailedJob, JobResult, JobStatistics, JobStatus, PriorityStatistics
from sheepfold.jobs.registry import JobRegistry
from sheepfold.jobs.serialization import dump_arguments, load_arguments
from sheepfold.jobs.statistics import QUEUE_TIME_SAMPLES, percentile
from sheepfold.memory.adapter import MemoryAdapter

if TYPE_CHECKING:
    from sheepfold.platform import Platform
    from sheepfold.tasks import BackgroundTasks


@dataclass(eq=False)
class _Job:
    job_id: str
    definition: JobDefinition
    queue: str
    priority: Priority
    arguments: bytes
    enqueued_at: float
    due_at: float
    job_try: int = 0
    task: asyncio.Task[None] | None = None
    aborted: bool = False


class MemoryJobs(MemoryAdapter[JobResult]):
    """:class:`~sheepfold.jobs.Jobs` run by asyncio tasks of this process, with the arq adapter's semantics.

    Per queue, at most ``registry.concurrency(queue)`` jobs run at once,
    higher priorities first, then in order of their due time. A failed try
    is retried after its function's backoff until ``max_tries``; then the job
    joins the failed-jobs list (at most ``failed_max`` entries). At most
    ``max_entries`` jobs wait or run (:class:`~sheepfold.jobs.JobQueueFull`
    beyond), and finished results are kept for ``keep_result`` seconds in a
    store of the same bound. Jobs live in this process only: a restart loses
    what waited.

    With ``eager`` (tests), ``enqueue`` runs the job at once, one try, and
    raises its error. The scheduler and every running job are tasks of
    ``tasks`` (see :class:`~sheepfold.memory.adapter.MemoryAdapter`).
    """

    def __init__(
        self,
        registry: JobRegistry,
        *,
        max_entries: int = 100_000,
        failed_max: int = 1000,
        eager: bool = False,
        platform: Platform | None = None,
        tasks: BackgroundTasks | None = None,
    ) -> None:
        super().__init__(max_entries, tasks=tasks)
        self.registry = registry
        self.max_entries = max_entries
        self.failed_max = failed_max
        self.eager = eager
        self._platform = platform
        self._jobs: dict[str, _Job] = {}
        self._ready: dict[str, list[tuple[int, float, int, str]]] = defaultdict(list)
        self._delayed: list[tuple[float, int, str]] = []
        self._running: dict[str, int] = defaultdict(int)
        self._sequence = itertools.count()
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._failed: OrderedDict[str, FailedJob] = OrderedDict()
        self._finished: dict[tuple[str, Priority], list[int]] = defaultdict(lambda: [0, 0])
        self._queue_times: dict[tuple[str, Priority], deque[float]] = defaultdict(
            lambda: deque(maxlen=QUEUE_TIME_SAMPLES)
        )

    async def start(self) -> None:
        await super().start()
        if self._scheduler is None and not self.eager:
            self._scheduler = self.tasks.spawn(self._schedule(), name="sheepfold-jobs-memory")

    async def close(self) -> None:
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        if self._scheduler is not None:
            tasks.append(self._scheduler)
            self._scheduler = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._jobs.clear()
        await super().close()

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
    ) -> str:
        definition = self.registry.get(function)
        arguments = dump_arguments(function, tuple(args), dict(kwargs or {}))
        job_id = job_id or new_job_id()
        if job_id in self._jobs or self.store.get(job_id) is not None:
            return job_id
        if len(self._jobs) >= self.max_entries:
            raise JobQueueFull(f"{len(self._jobs)} jobs wait or run in this process (jobs.max_entries)")
        now = time.time()
        job = _Job(
            job_id,
            definition,
            self.registry.queue_for(definition, queue),
            Priority.parse(priority),
            arguments,
            enqueued_at=now,
            due_at=due_at(now, delay, run_at),
        )
        if self.eager:
            self._jobs[job_id] = job
            await self._run(job, eager=True)
            return job_id
        self._jobs[job_id] = job
        self._push(job)
        self._wake.set()
        return job_id

    async def status(self, job_id: str) -> JobStatus:
        job = self._jobs.get(job_id)
        if job is not None:
            if job.task is not None:
                return JobStatus.IN_PROGRESS
            return JobStatus.DEFERRED if job.due_at > time.time() else JobStatus.QUEUED
        result = self.store.get(job_id)
        if result is None:
            return JobStatus.NOT_FOUND
        return JobStatus.COMPLETE if result.success else JobStatus.FAILED

    async def result(self, job_id: str) -> JobResult | None:
        return self.store.get(job_id)

    async def abort(self, job_id: str) -> bool:
        job = self._jobs.get(job_id)
        if job is None:
            return False
        job.aborted = True
        if job.task is not None:
            job.task.cancel()
        else:
            self._finish(job, time.time(), success=False, value=None, error="aborted before it started")
        return True

    async def statistics(self, queue: str | None = None) -> JobStatistics:
        now = time.time()
        stats = JobStatistics()
        if queue is None:
            queues = set(self.registry.queues()) | {name for name, _ in self._finished}
            queues |= {job.queue for job in self._jobs.values()}
        else:
            queues = {self.registry.known_queue(queue)}
        for name in sorted(queues):
            stats.queues[name] = {priority.name.lower(): PriorityStatistics() for priority in Priority}
        for job in self._jobs.values():
            if job.queue not in queues:
                continue
            entry = stats.queues[job.queue][job.priority.name.lower()]
            if job.task is not None:
                entry.active += 1
            elif job.due_at > now:
                entry.delayed += 1
            else:
                entry.waiting += 1
        for (name, priority), (completed, failed) in self._finished.items():
            if name in queues:
                entry = stats.queues[name][priority.name.lower()]
                entry.completed, entry.failed = completed, failed
        for (name, priority), samples in self._queue_times.items():
            if name in queues:
                entry = stats.queues[name][priority.name.lower()]
                entry.queue_time_p50, entry.queue_time_p95 = percentile(samples, 0.5), percentile(samples, 0.95)
        return stats

    async def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        return list(itertools.islice(reversed(self._failed.values()), limit))

    async def failed_job(self, job_id: str) -> FailedJob | None:
        return self._failed.get(job_id)

    async def retry_failed(self, job_id: str) -> bool:
        failed = self._failed.pop(job_id, None)
        if failed is None:
            return False
        self.store.pop(job_id)
        await self.enqueue(
            failed.function, failed.args, failed.kwargs, queue=failed.queue, priority=failed.priority, job_id=job_id
        )
        return True

    async def discard_failed(self, job_id: str) -> bool:
        return self._failed.pop(job_id, None) is not None

    def _push(self, job: _Job) -> None:
        if job.due_at > time.time():
            heapq.heappush(self._delayed, (job.due_at, next(self._sequence), job.job_id))
        else:
            heapq.heappush(self._ready[job.queue], (job.priority, job.due_at, next(self._sequence), job.job_id))

    async def _schedule(self) -> None:
        while True:
            self._wake.clear()
            now = time.time()
            while self._delayed and self._delayed[0][0] <= now:
                _, _, job_id = heapq.heappop(self._delayed)
                job = self._jobs.get(job_id)
                if job is not None and job.task is None:
                    heapq.heappush(self._ready[job.queue], (job.priority, job.due_at, next(self._sequence), job_id))
            for queue, ready in self._ready.items():
                limit = self.registry.concurrency(queue)
                while ready and self._running[queue] < limit:
                    job = self._jobs.get(heapq.heappop(ready)[3])
                    if job is not None and job.task is None and not job.aborted:
                        self._running[queue] += 1
                        job.task = self.tasks.spawn(self._run(job), name=f"job-{job.job_id}")
            wait = self._delayed[0][0] - time.time() if self._delayed else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(None if wait is None else max(wait, 0)):
                    await self._wake.wait()

    async def _run(self, job: _Job, *, eager: bool = False) -> None:
        job.job_try += 1
        started_at = time.time()
        self._queue_times[(job.queue, job.priority)].append(max(0.0, started_at - job.due_at))
        definition = job.definition
        context = JobContext(
            job.job_id, job.job_try, definition.name, job.queue, job.priority, job.enqueued_at, self._platform
        )
        try:
            args, kwargs = load_arguments(job.arguments)
            async with asyncio.timeout(definition.timeout):
                value = await definition.function(context, *args, **kwargs)
        except asyncio.CancelledError:
            if not job.aborted:
                raise
            self._finish(job, started_at, success=False, value=None, error="aborted while running")
        except Exception as error:
            described = definition.describe_failure(error)
            delay = None if eager else definition.retry_delay(job.job_try, error)
            if delay is None:
                self._finish(job, started_at, success=False, value=None, error=described)
                if eager:
                    raise
            else:
                job.task = None
                job.due_at = time.time() + delay
                self._push(job)
        else:
            self._finish(job, started_at, success=True, value=value, error=None)
        finally:
            if not eager:
                self._running[job.queue] -= 1
                self._wake.set()

    def _finish(self, job: _Job, started_at: float, *, success: bool, value: Any, error: str | None) -> None:
        self._jobs.pop(job.job_id, None)
        now = time.time()
        result = JobResult(
            job.job_id, job.definition.name, success, value, error, job.job_try, job.enqueued_at, started_at, now
        )
        self.store.set(job.job_id, result, ttl=max(job.definition.keep_result, 0.001))
        self._finished[(job.queue, job.priority)][0 if success else 1] += 1
        if not success and not job.aborted:  # an aborted job was stopped on purpose: not a failure to retry
            args, kwargs = load_arguments(job.arguments)
            self._failed.pop(job.job_id, None)
            self._failed[job.job_id] = FailedJob(
                job.job_id, job.definition.name, job.queue, job.priority, args, kwargs, job.job_try, error or "", now
            )
            while len(self._failed) > self.failed_max:
                self._failed.popitem(last=False)
