"""What the console shows, as JSON: the fleet, this instance's statistics, the job queues and the failed list.

Each part is read when asked (a page refresh, the live feed's round, a
script) and never kept: the console costs nothing while nobody watches.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Any

from sheepfold import BACKEND_FAILURES, Platform
from sheepfold.jobs import Jobs, PriorityStatistics
from sheepfold.statistics import gather_statistics

#: Characters of an argument's ``repr`` shown in the failed list (the JSON of one job stays small).
ARGUMENT_CHARACTERS = 200
#: The database pool's warning and error lines when sheepfold-database does not say (its defaults).
POOL_LINES = (80.0, 95.0)


async def fleet_figures(platform: Platform) -> dict[str, Any]:
    """The live instances (``platform.fleet.view()``) as JSON."""
    return (await platform.fleet.view()).to_json()


async def statistics_figures(platform: Platform) -> dict[str, Any]:
    """Every plugin's ``sheepfold_statistics`` section of this instance, with the time they were read."""
    return {"instance": platform.instance_id, "at": time.time(), "sections": await gather_statistics(platform)}


async def jobs_figures(platform: Platform, *, failed_limit: int) -> dict[str, Any]:
    """Per queue: the counts over every priority and each priority's; the newest failed jobs, secrets redacted.

    ``error`` says why the figures are missing (the job queue's backend and
    fallback both failed to answer), else None.
    """
    jobs = platform.find(Jobs)
    if jobs is None:
        return {"queues": {}, "failed": [], "error": "no job queue in this app"}
    try:
        statistics, failed = await asyncio.gather(jobs.statistics(), jobs.failed_jobs(failed_limit))
    except BACKEND_FAILURES as error:
        return {"queues": {}, "failed": [], "error": f"{type(error).__name__}: {error}"}
    queues = {name: queue_totals(by_priority) for name, by_priority in statistics.queues.items()}
    return {"queues": queues, "failed": [shortened(entry.to_json()) for entry in failed], "error": None}


def queue_totals(by_priority: dict[str, PriorityStatistics]) -> dict[str, Any]:
    """One queue's counts summed over its priorities, its worst queue times, and each priority's own figures."""
    entries = list(by_priority.values())
    p50s = [entry.queue_time_p50 for entry in entries if entry.queue_time_p50 is not None]
    p95s = [entry.queue_time_p95 for entry in entries if entry.queue_time_p95 is not None]
    return {
        "waiting": sum(entry.waiting for entry in entries),
        "active": sum(entry.active for entry in entries),
        "delayed": sum(entry.delayed for entry in entries),
        "completed": sum(entry.completed for entry in entries),
        "failed": sum(entry.failed for entry in entries),
        "queue_time_p50": max(p50s, default=None),
        "queue_time_p95": max(p95s, default=None),
        "priorities": {name: asdict(entry) for name, entry in by_priority.items()},
    }


def shortened(failed: dict[str, Any]) -> dict[str, Any]:
    """A failed job's JSON with each argument's ``repr`` cut to :data:`ARGUMENT_CHARACTERS`."""
    return failed | {
        "args": [_cut(text) for text in failed["args"]],
        "kwargs": {key: _cut(text) for key, text in failed["kwargs"].items()},
    }


def _cut(text: str) -> str:
    return text if len(text) <= ARGUMENT_CHARACTERS else text[: ARGUMENT_CHARACTERS - 1] + "…"


def pool_lines(platform: Platform) -> dict[str, float]:
    """The database pool's warning and error lines (``database.monitor.*_percent``), or their defaults."""
    warning = platform.settings.get("database.monitor.warning_percent", POOL_LINES[0])
    error = platform.settings.get("database.monitor.error_percent", POOL_LINES[1])
    return {"database_pool_warning_percent": float(warning), "database_pool_error_percent": float(error)}


async def snapshot(platform: Platform, *, failed_limit: int, live: dict[str, Any]) -> dict[str, Any]:
    """Everything the page shows at once: what ``GET /-/console/api/snapshot`` answers and the live feed pushes."""
    fleet, statistics, jobs = await asyncio.gather(
        fleet_figures(platform), statistics_figures(platform), jobs_figures(platform, failed_limit=failed_limit)
    )
    return {
        "at": time.time(),
        "instance": platform.instance_id,
        "fleet": fleet,
        "statistics": statistics["sections"],
        "jobs": jobs,
        "lines": pool_lines(platform),
        "live": live,
    }
