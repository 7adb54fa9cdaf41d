"""A single-file plugin for the console's browser test: a job that fails until a marker file exists."""

from __future__ import annotations

from pathlib import Path

from sheepfold.jobs import DoNotRetry, JobContext, JobDefinition

QUEUE = "console-test"


async def settle(ctx: JobContext, marker: str, *, token: str) -> str:
    """Fails for good (no retry) until ``marker`` exists; ``token`` is there to be redacted on the page."""
    if not Path(marker).exists():  # noqa: ASYNC240 - one stat of a local file, in a test's job
        raise DoNotRetry(f"{Path(marker).name} is not there yet")
    return "settled"


def sheepfold_jobs() -> list[JobDefinition]:
    return [JobDefinition(settle, queue=QUEUE, timeout=10, max_tries=1)]
