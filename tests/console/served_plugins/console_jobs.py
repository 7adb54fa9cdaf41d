"""A single-file plugin for the console's browser test: a job that fails until a marker file exists, and a
statistics section of its own (what any plugin's ``sheepfold_statistics`` shows on the page)."""

from __future__ import annotations

import itertools
from pathlib import Path

from sheepfold.jobs import DoNotRetry, JobContext, JobDefinition
from sheepfold.statistics import Statistics

QUEUE = "console-test"
SECTION = "console-test"
_reads = itertools.count(1)


async def settle(ctx: JobContext, marker: str, *, token: str) -> str:
    """Fails for good (no retry) until ``marker`` exists; ``token`` is there to be redacted on the page."""
    if not Path(marker).exists():  # noqa: ASYNC240 - one stat of a local file, in a test's job
        raise DoNotRetry(f"{Path(marker).name} is not there yet")
    return "settled"


def sheepfold_jobs() -> list[JobDefinition]:
    return [JobDefinition(settle, queue=QUEUE, timeout=10, max_tries=1)]


def sheepfold_statistics() -> Statistics:
    return Statistics(
        SECTION,
        counters={"reads": next(_reads)},
        gauges={"answer": 42},
        tables={"examples": [{"key": "ip:192.0.2.7", "limited": 3}, {"key": "user:ada", "limited": 1}]},
    )
