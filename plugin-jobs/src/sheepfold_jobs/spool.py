"""The ``spool`` fallback: while Redis is down, enqueued jobs wait in a bounded local spool, then go to Redis.

Configure it as the jobs capability's fallback (``[jobs] backend = "arq",
fallback = "spool"``). The fallback switch sends ``enqueue`` here once a
Redis call fails; when the switch's probe finds Redis again, the recovery
step :func:`drain_spool` hands every spooled job to the arq adapter in the
order it came, with its id, priority, due time and first enqueue time,
before enqueues go to Redis again. A job that cannot be handed over stays
spooled for the next recovery. The spool lives in this process's
memory: it survives an outage, not a restart of the process. With an
:class:`~sheepfold_jobs.outage_runner.OutageRunner` (``jobs.spool.run_priorities``),
jobs of those bands run in this process instead of waiting for Redis; the
same recovery step adds those runs (ends and queue times) to the queue's
statistics in Redis, so ``/metrics`` counts them like a worker's.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sheepfold import Recovery
from sheepfold.jobs import (
    FailedJob,
    JobQueueFull,
    JobRegistry,
    JobResult,
    Jobs,
    JobStatistics,
    JobStatus,
    Priority,
    PriorityStatistics,
)
from sheepfold.jobs.definition import due_at, new_job_id
from sheepfold.jobs.serialization import dump_arguments
from sheepfold.jobs.statistics import percentile
from sheepfold_jobs.adapter import ArqJobs
from sheepfold_jobs.outage_runner import OutageRunner

if TYPE_CHECKING:
    from sheepfold.propagation import Propagation

logger = logging.getLogger("sheepfold.jobs.spool")


@dataclass(frozen=True)
class SpooledJob:
    """One ``enqueue`` call kept while Redis was down."""

    job_id: str
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    queue: str
    priority: Priority
    due_at: float
    enqueued_at: float
    #: The trace it was enqueued in (``platform.propagation.carrier()``), handed to Redis with it.
    carrier: dict[str, str] | None = None


class SpooledJobs:
    """:class:`~sheepfold.jobs.Jobs` that only accepts jobs, holding at most ``max_entries`` until Redis returns.

    Beyond the bound, ``enqueue`` raises :class:`~sheepfold.jobs.JobQueueFull`
    rather than drop a job silently. Status is ``queued``/``deferred`` for
    spooled jobs; results, the failed list and aborting running jobs need Redis.
    A job ``runner`` takes (due now, of its bands) runs in this process instead
    of being spooled; its status is then ``not_found`` and its result is not kept.
    Statistics count the spooled jobs, and the runner's runs not yet written to
    Redis (their ends and queue times: this process's share of the outage).
    """

    def __init__(
        self,
        registry: JobRegistry,
        *,
        max_entries: int = 10_000,
        runner: OutageRunner | None = None,
        propagation: Propagation | None = None,
    ) -> None:
        self.registry = registry
        self.propagation = propagation
        self.max_entries = max_entries
        self.runner = runner
        self.spooled: OrderedDict[str, SpooledJob] = OrderedDict()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        if self.spooled:
            logger.error("%d spooled jobs were never handed to Redis and are lost", len(self.spooled))

    async def ping(self) -> None:
        return None

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
        args, kwargs = tuple(args), dict(kwargs or {})
        dump_arguments(function, args, kwargs)
        job_id = job_id or new_job_id()
        if job_id in self.spooled:
            return job_id
        if len(self.spooled) >= self.max_entries:
            raise JobQueueFull(
                f"Redis is down and the job spool holds {len(self.spooled)} jobs (jobs.spool.max_entries)"
            )
        now = time.time()
        job = SpooledJob(
            job_id, function, args, kwargs, self.registry.queue_for(definition, queue), Priority.parse(priority),
            due_at(now, delay, run_at), now, self.propagation.carrier() if self.propagation is not None else None,
        )  # fmt: skip
        if self.runner is not None and self.runner.takes(job):
            self.runner.run(job, self._respool)
        else:
            self.spooled[job_id] = job
        return job_id

    def _respool(self, job: SpooledJob, delay: float) -> None:
        # A failed try of a job run here: spooled again, due after its retry delay (the bound does not refuse it).
        self.spooled[job.job_id] = replace(job, due_at=time.time() + delay)

    async def status(self, job_id: str) -> JobStatus:
        job = self.spooled.get(job_id)
        if job is None:
            return JobStatus.NOT_FOUND
        return JobStatus.DEFERRED if job.due_at > time.time() else JobStatus.QUEUED

    async def result(self, job_id: str) -> JobResult | None:
        return None

    async def abort(self, job_id: str) -> bool:
        return self.spooled.pop(job_id, None) is not None

    async def statistics(self, queue: str | None = None) -> JobStatistics:
        stats = JobStatistics()
        now = time.time()
        for name in self.registry.queues_to_count(queue):
            stats.queues[name] = {band.name.lower(): PriorityStatistics() for band in Priority}
        for job in self.spooled.values():
            if queue is not None and job.queue != queue:
                continue
            entry = stats.queues.setdefault(job.queue, {band.name.lower(): PriorityStatistics() for band in Priority})[
                job.priority.name.lower()
            ]
            if job.due_at > now:
                entry.delayed += 1
            else:
                entry.waiting += 1
        unrecorded = self.runner.unrecorded if self.runner is not None else {}
        for (name, band), runs in unrecorded.items():
            if name not in stats.queues:
                continue
            entry = stats.queues[name][band.name.lower()]
            samples = [sample / 1000 for sample in runs.queue_times_ms]
            entry.completed, entry.failed = runs.completed, runs.failed
            entry.queue_time_p50, entry.queue_time_p95 = percentile(samples, 0.5), percentile(samples, 0.95)
        return stats

    async def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        return []

    async def failed_job(self, job_id: str) -> FailedJob | None:
        return None

    async def retry_failed(self, job_id: str) -> bool:
        return False

    async def discard_failed(self, job_id: str) -> bool:
        return False

    async def hand_over(self, backend: Any) -> int:
        """Enqueue every spooled job on ``backend`` in order; stops at the first failure. Returns how many went."""
        handed = 0
        for job_id, job in list(self.spooled.items()):
            await backend.enqueue(
                job.function, job.args, job.kwargs, queue=job.queue, priority=job.priority,
                run_at=datetime.fromtimestamp(job.due_at, UTC), job_id=job_id, enqueued_at=job.enqueued_at,
                carrier=job.carrier,
            )  # fmt: skip
            del self.spooled[job_id]
            handed += 1
        return handed


async def drain_spool(recovery: Recovery[Jobs]) -> None:
    """The jobs capability's recovery step: record the outage runner's runs, then hand the spool to the backend.

    Enqueues made while it runs are spooled too (the switch still serves the
    fallback) and handed over by the next round; a failure raises, and what
    was not recorded or handed over is kept for the next recovery.
    """
    spool = recovery.fallback_as(SpooledJobs)
    if spool is None:
        return
    backend = recovery.backend_as(ArqJobs)
    if spool.runner is not None and spool.runner.unrecorded and backend is not None:
        runs = spool.runner.take_unrecorded()
        try:
            await backend.record_runs(runs)
        finally:
            spool.runner.give_back(runs)  # what Redis did not take, if anything
    handed = 0
    while spool.spooled:
        handed += await spool.hand_over(recovery.backend)
    if handed:
        logger.warning("handed %d spooled jobs to %r", handed, recovery.backend_name)
