"""Job functions that the job-queue contract enqueues, recording every run in this process.

``RUNS[key]`` lists the ``job_try`` of every run of a job called with that
key; ``GATES[key]`` is an event that ``wait_for_gate`` blocks on until the
test sets it. Keys are fresh per test, so tests never see each other's runs.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict

from sheepfold.jobs import DoNotRetry, JobContext, JobDefinition, JobRegistry, RetryPolicy

RUNS: defaultdict[str, list[int]] = defaultdict(list)
ORDER: defaultdict[str, list[str]] = defaultdict(list)
GATES: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
FIXED: set[str] = set()
QUEUE_TIMES: defaultdict[str, list[float]] = defaultdict(list)
QUICK_RETRY = RetryPolicy(base=0.05, factor=2.0, max_delay=0.2, jitter=0.5)
SERIAL_QUEUE = "serial"


def fresh_key() -> str:
    return secrets.token_hex(6)


async def record(ctx: JobContext, key: str, value: object = None) -> object:
    RUNS[key].append(ctx.job_try)
    return value


async def record_order(ctx: JobContext, key: str, label: str) -> None:
    ORDER[key].append(label)


async def note_progress(ctx: JobContext, key: str, watched: str) -> None:
    """Record how many runs of ``watched`` had happened when this job started."""
    ORDER[key].append(str(len(RUNS[watched])))


async def flaky(ctx: JobContext, key: str, failures: int) -> str:
    RUNS[key].append(ctx.job_try)
    if ctx.job_try <= failures:
        raise RuntimeError(f"try {ctx.job_try} fails")
    return "done"


async def refuse(ctx: JobContext, key: str) -> None:
    RUNS[key].append(ctx.job_try)
    if key not in FIXED:
        raise DoNotRetry("the input is invalid")


async def wait_for_gate(ctx: JobContext, key: str) -> str:
    RUNS[key].append(ctx.job_try)
    await GATES[key].wait()
    return "opened"


async def record_queue_time(ctx: JobContext, key: str) -> None:
    """Record the run and how long the job waited since it was first enqueued."""
    RUNS[key].append(ctx.job_try)
    QUEUE_TIMES[key].append(time.time() - ctx.enqueued_at)


async def hold_until_opened(ctx: JobContext, key: str) -> str:
    """As :func:`wait_for_gate`, on the default queue with a short timeout (a lease of seconds)."""
    RUNS[key].append(ctx.job_try)
    await GATES[key].wait()
    return "opened"


async def sleep_for(ctx: JobContext, key: str, seconds: float) -> None:
    RUNS[key].append(ctx.job_try)
    await asyncio.sleep(seconds)


DEFINITIONS = [
    JobDefinition(record),
    JobDefinition(record_order, queue=SERIAL_QUEUE),
    JobDefinition(note_progress),
    JobDefinition(flaky, max_tries=3, retry=QUICK_RETRY),
    JobDefinition(refuse, max_tries=5, retry=QUICK_RETRY),
    JobDefinition(wait_for_gate, queue=SERIAL_QUEUE, timeout=10),
    JobDefinition(sleep_for, timeout=0.2, max_tries=1),
    JobDefinition(hold_until_opened, timeout=2, max_tries=3),
    JobDefinition(record_queue_time),
]


def registry_for_tests() -> JobRegistry:
    """The test functions, with the ``serial`` queue running one job at a time."""
    return JobRegistry(DEFINITIONS, {SERIAL_QUEUE: 1}, default_concurrency=10)
