"""Running urgent jobs in this process while Redis is down, so that their queue time does not wait out an outage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sheepfold.jobs import JobContext, JobRegistry, Priority
from sheepfold.jobs.statistics import QUEUE_TIME_SAMPLES

if TYPE_CHECKING:
    from sheepfold.platform import Platform
    from sheepfold_jobs.spool import SpooledJob

logger = logging.getLogger("sheepfold.jobs.spool")


@dataclass
class OutageRuns:
    """What the runner did for one queue and priority that the fleet's statistics in Redis do not know yet.

    The same figures a worker keeps in Redis (:mod:`sheepfold_jobs.keys`):
    ends counted by outcome, and the most recent queue times in ms (due to
    start), oldest first, at most ``QUEUE_TIME_SAMPLES``.
    """

    completed: int = 0
    failed: int = 0
    queue_times_ms: deque[int] = field(default_factory=lambda: deque(maxlen=QUEUE_TIME_SAMPLES))

    def add(self, other: OutageRuns) -> None:
        """Count ``other``'s runs as well (``other``'s queue times being the older ones)."""
        self.completed += other.completed
        self.failed += other.failed
        newer = list(self.queue_times_ms)
        self.queue_times_ms.clear()
        self.queue_times_ms.extend([*other.queue_times_ms, *newer])


class OutageRunner:
    """Runs jobs of the ``priorities`` bands in this process, at most the queue's concurrency at once.

    The spool hands it a job instead of keeping it (:meth:`takes`), so the
    job is never handed to Redis as well: it runs once here. A try that fails
    with tries left goes back to the spool by ``respool`` (due after its retry
    delay), handed to Redis on recovery like any spooled job (arq counts its
    tries afresh there); a job this process is
    killed in the middle of is lost, as everything spooled in it would be.
    Each run is a task of the platform's ``tasks``.

    Its runs count in the queue's statistics as a worker's do: each start's
    queue time and each end (completed, or failed for good) is kept in
    :attr:`unrecorded` until the spool's recovery step writes it to Redis
    (:func:`~sheepfold_jobs.spool.drain_spool`); until then the spool's
    statistics report it. A run still going when that step runs is written
    at the next recovery.
    """

    def __init__(self, registry: JobRegistry, priorities: frozenset[Priority], platform: Platform) -> None:
        self.registry = registry
        self.priorities = priorities
        self.platform = platform
        #: Runs not yet in the fleet's statistics, by (queue, priority).
        self.unrecorded: dict[tuple[str, Priority], OutageRuns] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}

    def takes(self, job: SpooledJob) -> bool:
        """True when ``job`` (due now, of a band this runner serves) is run here rather than spooled."""
        return job.priority in self.priorities and job.due_at <= time.time()

    def run(self, job: SpooledJob, respool: Callable[[SpooledJob, float], None]) -> None:
        """Start ``job`` as an owned task; ``respool(job, delay)`` when a failed try may be retried."""
        self.platform.tasks.spawn(self._run(job, respool), name=f"job-{job.job_id}-during-outage")

    async def _run(self, job: SpooledJob, respool: Callable[[SpooledJob, float], None]) -> None:
        job_try = 1  # a job is run here only on its first try; a retry goes through the spool
        definition = self.registry.get(job.function)
        slots = self._slots.setdefault(job.queue, asyncio.Semaphore(self.registry.concurrency(job.queue)))
        async with slots:
            self._runs_of(job).queue_times_ms.append(max(int((time.time() - job.due_at) * 1000), 0))
            context = JobContext(
                job.job_id, job_try, job.function, job.queue, job.priority, job.enqueued_at, self.platform
            )
            try:
                async with asyncio.timeout(definition.timeout):
                    await definition.function(context, *job.args, **job.kwargs)
            except Exception as error:
                delay = definition.retry_delay(job_try, error)
                if delay is None:
                    logger.error("job %s (%s) failed during the Redis outage: %r", job.job_id, job.function, error)
                    self._runs_of(job).failed += 1
                else:
                    respool(job, delay)
                return
            self._runs_of(job).completed += 1

    def _runs_of(self, job: SpooledJob) -> OutageRuns:
        # Looked up at the start and again at the end: the recovery step may take the record in between.
        return self.unrecorded.setdefault((job.queue, job.priority), OutageRuns())

    def take_unrecorded(self) -> dict[tuple[str, Priority], OutageRuns]:
        """Hand over the runs not yet recorded (the runner starts a new record); see :meth:`give_back`."""
        taken, self.unrecorded = self.unrecorded, {}
        return taken

    def give_back(self, taken: dict[tuple[str, Priority], OutageRuns]) -> None:
        """Keep what is left of ``taken`` (from :meth:`take_unrecorded`) again: the runs Redis did not take."""
        for key, runs in taken.items():
            self.unrecorded.setdefault(key, OutageRuns()).add(runs)
