"""Running urgent jobs in this process while Redis is down, so that their queue time does not wait out an outage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sheepfold.jobs import JobContext, JobRegistry, Priority

if TYPE_CHECKING:
    from sheepfold.platform import Platform
    from sheepfold_jobs.spool import SpooledJob

logger = logging.getLogger("sheepfold.jobs.spool")


class OutageRunner:
    """Runs jobs of the ``priorities`` bands in this process, at most the queue's concurrency at once.

    The spool hands it a job instead of keeping it (:meth:`takes`), so the
    job is never handed to Redis as well: it runs once here. A try that fails
    with tries left goes back to the spool by ``respool`` (due after its retry
    delay), handed to Redis on recovery like any spooled job (arq counts its
    tries afresh there); a job this process is
    killed in the middle of is lost, as everything spooled in it would be.
    Each run is a task of the platform's ``tasks``.
    """

    def __init__(self, registry: JobRegistry, priorities: frozenset[Priority], platform: Platform) -> None:
        self.registry = registry
        self.priorities = priorities
        self.platform = platform
        self.ran = 0
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
                else:
                    respool(job, delay)
                return
            self.ran += 1
