"""A single-file plugin for worker processes and commands: a slow job recording its starts and finishes in Redis."""

from __future__ import annotations

import asyncio

from sheepfold.jobs import DoNotRetry, JobContext, JobDefinition, RetryPolicy
from sheepfold_redis import RedisConnection

QUEUE = "crash"


def starts_key(key: str) -> str:
    return f"crash-test:{key}:starts"


def finishes_key(key: str) -> str:
    return f"crash-test:{key}:finishes"


async def slow_record(ctx: JobContext, key: str, seconds: float) -> None:
    client = ctx.platform.require(RedisConnection).client
    await client.rpush(starts_key(key), f"{ctx.job_id}:{ctx.job_try}")
    await asyncio.sleep(seconds)
    await client.rpush(finishes_key(key), ctx.job_id)


async def patient(ctx: JobContext) -> None:
    """Never enqueued by the tests: its long timeout must not lengthen the lease of other jobs."""


async def noop(ctx: JobContext) -> None:
    """Nothing to do (the fleet harness's priority job): only its queue time and its end are observed."""


async def reject(ctx: JobContext, reason: str) -> None:
    raise DoNotRetry(reason)


def sheepfold_jobs() -> list[JobDefinition]:
    return [
        JobDefinition(slow_record, queue=QUEUE, timeout=3.0, max_tries=3, retry=RetryPolicy(base=0.1)),
        JobDefinition(noop, queue=QUEUE, timeout=3.0),
        JobDefinition(reject, queue=QUEUE, timeout=3.0),
        JobDefinition(patient, queue=QUEUE, timeout=600.0),
    ]
