"""What a job function is: its name, queue, timeout, tries and retry policy, and the context it receives."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sheepfold.platform import Platform

#: The queue a job definition names when it names none.
DEFAULT_QUEUE = "default"


class Priority(IntEnum):
    """A job's priority within its queue; a lower value is picked up first."""

    HIGH = 0
    NORMAL = 1
    LOW = 2

    @classmethod
    def parse(cls, value: Priority | str | int) -> Priority:
        """``Priority.HIGH``, ``"high"`` or ``0``; ValueError naming the choices otherwise."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                raise ValueError(f"unknown priority {value!r}; choose high, normal or low") from None
        return cls(value)


class DoNotRetry(Exception):
    """Raise it (``raise DoNotRetry("invalid document") from error``) to fail a job at once, without retries."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter between tries.

    Try ``n`` (1-based) that failed waits ``base * factor ** (n - 1)`` seconds,
    capped at ``max_delay``, less a random share of up to ``jitter`` of it, so
    jobs that failed together do not all come back at the same instant.
    """

    base: float = 1.0
    factor: float = 2.0
    max_delay: float = 300.0
    jitter: float = 0.5

    def delay(self, job_try: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed try ``job_try`` before the next one."""
        backoff = min(self.max_delay, self.base * self.factor ** max(job_try - 1, 0))
        return backoff * (1 - self.jitter * rand())


@dataclass(frozen=True)
class JobContext:
    """What a job function receives as its first argument.

    ``job_try`` is 1 on the first run and grows with every retry and every
    rerun after a crash: a function that sees ``job_try > 1`` knows an
    earlier run may have done part of its work. ``platform`` is the running
    platform (its services: ``platform.require(...)``): every runner a platform
    starts (the memory runner, arq workers embedded or ``sheepfold worker``, the
    outage runner) passes it; it is None only for an adapter built by hand
    without a platform, as the contract suites do.
    """

    job_id: str
    job_try: int
    function: str
    queue: str
    priority: Priority
    enqueued_at: float
    platform: Platform | None = None


#: A job: ``async def fn(ctx: JobContext, *args, **kwargs)``; what it returns is the job's result.
JobFunction = Callable[..., Awaitable[Any]]
"""``async def fn(ctx: JobContext, *args, **kwargs)``."""


@dataclass(frozen=True)
class JobDefinition:
    """A job function offered through ``sheepfold_jobs``.

    ``name`` is what callers enqueue (defaults to the function's name).
    ``queue`` is where its jobs go unless ``enqueue`` names another.
    ``timeout`` (seconds) bounds one try; a try that exceeds it fails and is
    retried like any other failure. ``max_tries`` counts every run, retries
    and reruns after a crash included. ``keep_result`` is how long a
    finished job's result stays readable.
    """

    function: JobFunction
    name: str = ""
    queue: str = DEFAULT_QUEUE
    timeout: float = 300.0
    max_tries: int = 5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    keep_result: float = 3600.0

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.function.__name__)
        if self.timeout <= 0 or self.max_tries < 1 or self.keep_result < 0:
            raise ValueError(f"job {self.name!r}: timeout must be > 0, max_tries >= 1, keep_result >= 0")

    def retry_delay(self, job_try: int, error: BaseException) -> float | None:
        """Seconds until the next try after ``error`` ended try ``job_try``; None when the job has failed for good."""
        if isinstance(error, DoNotRetry) or job_try >= self.max_tries:
            return None
        return self.retry.delay(job_try)

    def describe_failure(self, error: BaseException) -> str:
        """``"Type: message"`` of a failed try, saying which timeout a bare ``TimeoutError`` exceeded."""
        if isinstance(error, TimeoutError) and not str(error):
            return f"TimeoutError: the try exceeded the job's timeout of {self.timeout:g}s"
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def new_job_id() -> str:
    """A fresh random job id (32 hex digits, as arq makes them)."""
    return uuid.uuid4().hex


def due_at(now: float, delay: float | None, run_at: datetime | None) -> float:
    """Epoch seconds at which a job enqueued at ``now`` becomes due; ``delay`` and ``run_at`` exclude each other."""
    if delay is not None and run_at is not None:
        raise ValueError("give either delay or run_at, not both")
    if run_at is not None:
        if run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        return run_at.timestamp()
    return now + (delay or 0.0)


def job(
    *,
    name: str = "",
    queue: str = DEFAULT_QUEUE,
    timeout: float = 300.0,
    max_tries: int = 5,
    retry: RetryPolicy | None = None,
    keep_result: float = 3600.0,
) -> Callable[[JobFunction], JobDefinition]:
    """Decorator form of :class:`JobDefinition`: ``@job(queue="ocr", timeout=60)`` above ``async def``."""

    def define(function: JobFunction) -> JobDefinition:
        return JobDefinition(function, name, queue, timeout, max_tries, retry or RetryPolicy(), keep_result=keep_result)

    return define
