"""The job-queue capability: the port, job definitions, and the in-process runner."""

from sheepfold.jobs.definition import (
    DEFAULT_QUEUE,
    DoNotRetry,
    JobContext,
    JobDefinition,
    JobFunction,
    Priority,
    RetryPolicy,
    job,
)
from sheepfold.jobs.errors import JobArgumentsError, JobError, JobQueueFull, UnknownJobFunction, UnknownJobQueue
from sheepfold.jobs.port import FailedJob, JobResult, Jobs, JobStatistics, JobStatus, PriorityStatistics
from sheepfold.jobs.registry import JobRegistry

__all__ = [
    "DEFAULT_QUEUE",
    "DoNotRetry",
    "FailedJob",
    "JobArgumentsError",
    "JobContext",
    "JobDefinition",
    "JobError",
    "JobFunction",
    "JobQueueFull",
    "JobRegistry",
    "JobResult",
    "JobStatistics",
    "JobStatus",
    "Jobs",
    "Priority",
    "PriorityStatistics",
    "RetryPolicy",
    "UnknownJobFunction",
    "UnknownJobQueue",
    "job",
]
