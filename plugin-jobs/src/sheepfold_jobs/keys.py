"""Where sheepfold keeps a queue's jobs in Redis: arq's own keys, plus the priority index and statistics.

A job enqueued through sheepfold is a plain arq job: its data under
``arq:job:<id>`` and its id in the queue's arq sorted set (score: due time
in ms), so a stock arq worker given the same functions runs it. Beside
them, under the platform's namespace, sheepfold keeps for each queue:

- ``index``: the same ids, scored ``band * BAND_WIDTH + due ms`` (band 0 is
  high priority): the order sheepfold workers claim in, highest band first;
- ``active:<band>``: ids claimed by a sheepfold worker, scored by the moment
  their lease ends (a dead worker's jobs go back to the index then);
- ``timeouts``: each waiting or running job's function timeout in ms, so a
  claim's lease fits that job (timeout + crash margin), not the longest one;
- ``counts``: completed and failed jobs per band (fleet-wide counters);
- ``queue-times:<band>``: the most recent queue times in ms (a capped list);
- ``wake``: the pub/sub channel an enqueue publishes on, so idle workers
  wake at once instead of polling; ``idle``: a flag a worker with free
  slots sets as it goes to sleep, so that only the first enqueue after it
  publishes (a busy fleet is not flooded with one message per job).

Every statistic is read with counting commands on these keys (ZCOUNT,
HGETALL, LRANGE of a capped list): never KEYS, never a scan.
arq's keys are not namespaced (arq has no prefix setting); job ids are
random unless the caller gives one.
"""

from __future__ import annotations

from dataclasses import dataclass

from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix

from sheepfold.jobs import Priority
from sheepfold_redis import RedisConnection

#: Width of one priority band in the index, in ms: about 317 years, more than any epoch-ms due time until 2286.
BAND_WIDTH = 10**13
BANDS = tuple(Priority)
ABORT_KEY = abort_jobs_ss
IN_PROGRESS_PREFIX = in_progress_key_prefix


def job_key(job_id: str) -> str:
    return job_key_prefix + job_id


def result_key(job_id: str) -> str:
    return result_key_prefix + job_id


def retry_key(job_id: str) -> str:
    return retry_key_prefix + job_id


def in_progress_key(job_id: str) -> str:
    return in_progress_key_prefix + job_id


@dataclass(frozen=True)
class QueueKeys:
    """The keys of one queue (see the module docstring)."""

    queue: str
    arq_queue: str
    index: str
    active: tuple[str, ...]
    timeouts: str
    counts: str
    queue_times: tuple[str, ...]
    wake: str
    idle: str

    @classmethod
    def of(cls, connection: RedisConnection, queue: str) -> QueueKeys:
        return cls(
            queue=queue,
            arq_queue=connection.key("jobs", queue),
            index=connection.key("jobs", queue, "index"),
            active=tuple(connection.key("jobs", queue, "active", band.value) for band in BANDS),
            timeouts=connection.key("jobs", queue, "timeouts"),
            counts=connection.key("jobs", queue, "counts"),
            queue_times=tuple(connection.key("jobs", queue, "queue-times", band.value) for band in BANDS),
            wake=connection.key("jobs", queue, "wake"),
            idle=connection.key("jobs", queue, "idle"),
        )


@dataclass(frozen=True)
class FailedKeys:
    """The failed-jobs list: ids by the moment they failed, and each one's pickled record."""

    ids: str
    records: str

    @classmethod
    def of(cls, connection: RedisConnection) -> FailedKeys:
        return cls(ids=connection.key("jobs", "failed"), records=connection.key("jobs", "failed", "records"))
