"""Errors of the job-queue capability."""

from __future__ import annotations

from sheepfold.errors import SheepfoldError


class JobError(SheepfoldError):
    """Base class of the job queue's refusals."""


class UnknownJobFunction(JobError, LookupError):
    """``enqueue`` named a function no plugin registered through ``sheepfold_jobs``."""


class UnknownJobQueue(JobError, LookupError):
    """``enqueue`` named a queue that neither settings (``[jobs.queues]``) nor a job definition declares."""


class JobArgumentsError(JobError, TypeError):
    """A job's arguments cannot be serialized; raised by ``enqueue``, before anything is queued."""


class JobQueueFull(JobError):
    """A bounded in-process queue or spool is full; the job was not accepted."""
