"""The job-queue port: enqueue, status, result, abort, statistics and the failed-jobs list."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from sheepfold.jobs.definition import Priority
from sheepfold.settings import REDACTED, is_secret, redact_secrets


class JobStatus(StrEnum):
    """Where a job is: waiting (``queued``, or ``deferred`` until its time), running, or finished."""

    QUEUED = "queued"
    DEFERRED = "deferred"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    FAILED = "failed"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class JobResult:
    """A finished job: ``success`` with its ``value``, or the ``error`` (type and message) of its last try."""

    job_id: str
    function: str
    success: bool
    value: Any
    error: str | None
    tries: int
    enqueued_at: float
    started_at: float
    finished_at: float


@dataclass(frozen=True)
class FailedJob:
    """An entry of the failed-jobs list: what ran, how often, and why its last try failed.

    ``retry_failed(job_id)`` enqueues it again under the same id, from try 1;
    ``discard_failed(job_id)`` removes it without running it again.
    """

    job_id: str
    function: str
    queue: str
    priority: Priority
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    tries: int
    error: str
    failed_at: float

    def to_json(self) -> dict[str, Any]:
        """The entry as admins read it: arguments as ``repr`` strings, secrets redacted.

        A keyword argument, or a mapping's key at any depth of an argument,
        that looks secret (``secret``, ``password``, ``token``, ``key``,
        ``dsn``: the rule settings follow) has its value shown as
        ``<redacted>``. A secret passed positionally cannot be recognised:
        pass secrets by a name that says so, or better, not at all.
        """
        data = asdict(self)
        data["priority"] = self.priority.name.lower()
        data["args"] = [repr(redact_secrets(arg)) for arg in self.args]
        data["kwargs"] = {
            key: REDACTED if is_secret(key) else repr(redact_secrets(value)) for key, value in self.kwargs.items()
        }
        return data


@dataclass
class PriorityStatistics:
    """Counts for one priority of one queue, across every worker of the fleet.

    ``waiting`` are due and not started, ``delayed`` wait for their time (a
    delay, or a retry's backoff), ``active`` are running. ``completed`` and
    ``failed`` count since the counters were created. Queue times (seconds
    from due to start) are over the most recent starts (a bounded sample).
    """

    waiting: int = 0
    delayed: int = 0
    active: int = 0
    completed: int = 0
    failed: int = 0
    queue_time_p50: float | None = None
    queue_time_p95: float | None = None


@dataclass
class JobStatistics:
    """``queues[queue][priority name]``: the :class:`PriorityStatistics` of each queue and priority."""

    queues: dict[str, dict[str, PriorityStatistics]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "queues": {
                queue: {priority: asdict(stats) for priority, stats in by_priority.items()}
                for queue, by_priority in self.queues.items()
            }
        }


@runtime_checkable
class Jobs(Protocol):
    """A job queue: functions registered through ``sheepfold_jobs``, run by workers.

    Jobs run at least once: a worker that dies mid-job leaves it to run
    again, so functions must be idempotent (``JobContext.job_try`` tells a
    rerun). Adapters raise :class:`~sheepfold.errors.BackendUnavailable` when
    the backend is down.
    """

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
        """Queue a call of ``function``; returns the job's id.

        ``queue`` defaults to the function's own. ``delay`` (seconds) or
        ``run_at`` (aware datetime) defers it. A ``job_id`` already known
        (queued, running, or with a result still kept) enqueues nothing and
        returns the same id: de-duplication. Raises
        :class:`~sheepfold.jobs.UnknownJobFunction` for an unregistered
        function, :class:`~sheepfold.jobs.UnknownJobQueue` for an undeclared
        queue and :class:`~sheepfold.jobs.JobArgumentsError` for arguments
        that cannot be serialized, before anything is queued.
        """
        ...

    async def status(self, job_id: str) -> JobStatus:
        """Where the job is now; ``NOT_FOUND`` once unknown or its result expired."""
        ...

    async def result(self, job_id: str) -> JobResult | None:
        """The finished job's result, or None while it has not finished (or is unknown)."""
        ...

    async def abort(self, job_id: str) -> bool:
        """Stop a job: a waiting one never starts, a running one is cancelled. True when it was waiting or running."""
        ...

    async def statistics(self, queue: str | None = None) -> JobStatistics:
        """Per queue and priority: waiting, delayed, active, completed, failed and queue time p50/p95.

        Every queue of the fleet, or only ``queue`` when named (its counts
        alone are read: on Redis, a few counting commands for that queue in
        one pipeline). Raises :class:`~sheepfold.jobs.UnknownJobQueue` for a
        queue no worker serves.
        """
        ...

    async def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        """The most recent jobs that failed for good, newest first (a bounded list)."""
        ...

    async def failed_job(self, job_id: str) -> FailedJob | None:
        """One entry of the failed-jobs list."""
        ...

    async def retry_failed(self, job_id: str) -> bool:
        """Enqueue a failed job again (same id, function, arguments, queue, priority); False when not in the list."""
        ...

    async def discard_failed(self, job_id: str) -> bool:
        """Remove a job from the failed-jobs list without running it again; False when not in the list.

        Its result (failed) stays readable until it expires, as any result does.
        """
        ...

    async def ping(self) -> None:
        """Raise unless the backend can serve calls."""
        ...
