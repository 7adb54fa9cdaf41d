"""The ``jobs`` section of the operator console: one reading of the port's statistics, as gauges and a table."""

from __future__ import annotations

from sheepfold.jobs.port import Jobs
from sheepfold.statistics import Cell, Statistics

#: What a queue holds now (gauges) and what it has finished since counting began (counters).
NOW = ("waiting", "delayed", "active")
FINISHED = ("completed", "failed")


async def jobs_statistics(jobs: Jobs) -> Statistics:
    """Per queue: gauges ``waiting|delayed|active.<queue>``, counters ``completed|failed.<queue>``, table ``queues``.

    One :meth:`~sheepfold.jobs.Jobs.statistics` call for every queue (on
    Redis: a few counting commands per queue in one pipeline, never a scan).
    The figures are the fleet's where the adapter is shared (arq on Redis)
    and this process's with the memory runner. The ``queues`` table has a
    row per queue and priority with the counts and the queue time (seconds
    from due to start, p50 and p95 over the most recent starts).
    """
    stats = await jobs.statistics()
    counters: dict[str, float] = {}
    gauges: dict[str, float] = {}
    rows: list[dict[str, Cell]] = []
    for queue, by_priority in stats.queues.items():
        for state in NOW:
            gauges[f"{state}.{queue}"] = sum(getattr(entry, state) for entry in by_priority.values())
        for state in FINISHED:
            counters[f"{state}.{queue}"] = sum(getattr(entry, state) for entry in by_priority.values())
        for priority, entry in by_priority.items():
            row: dict[str, Cell] = {"queue": queue, "priority": priority}
            row.update({state: getattr(entry, state) for state in (*NOW, *FINISHED)})
            row.update(queue_time_p50=entry.queue_time_p50, queue_time_p95=entry.queue_time_p95)
            rows.append(row)
    return Statistics("jobs", counters=counters, gauges=gauges, tables={"queues": rows})
