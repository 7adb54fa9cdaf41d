"""Where sheepfold keeps a queue's jobs in Redis: arq's own keys, plus the priority index and statistics.

Every key of a queue, and every key of each of its jobs, carries the
queue's Cluster hash tag ``{jobs:<queue>}``: a queue lives in one slot (so
every script and arq pipeline on it runs on one node) and different queues
spread over a Cluster's primaries.

A job enqueued through sheepfold is a plain arq job. arq names a job's
keys after its id (``arq:job:<id>``, ``arq:result:<id>``,
``arq:in-progress:<id>``, ``arq:retry:<id>``) and has no setting for them,
so the id arq sees (the *arq id*) is the job's id behind the queue's tag:
``{jobs:<queue>}<id>``, which puts those keys in the queue's slot. Callers
see the id they gave or got (:meth:`QueueKeys.arq_id` and
:meth:`QueueKeys.job_id` convert). Under the platform's namespace,
sheepfold keeps for each queue:

- ``queue``: arq's sorted set of arq ids (score: due time in ms), which a
  stock arq worker given this name reads;
- ``index``: the same ids, scored ``band * BAND_WIDTH + due ms`` (band 0 is
  high priority): the order sheepfold workers claim in, highest band first;
- ``active:<band>``: ids claimed by a sheepfold worker, scored by the moment
  their lease ends (a dead worker's jobs go back to the index then);
- ``timeouts``: each waiting or running job's function timeout in ms, so a
  claim's lease fits that job (timeout + crash margin), not the longest one;
- ``counts``: completed and failed jobs per band (fleet-wide counters);
- ``queue-times:<band>``: the most recent queue times in ms (a capped list);
- ``abort``: ids of running jobs to cancel (arq's ``arq:abort`` is one key
  for every queue, in one slot; a queue's own set keeps it in the queue's);
- ``failed`` and ``failed-records``: the queue's failed jobs, by the moment
  they failed, and each one's pickled record;
- ``wake``: the pub/sub channel an enqueue publishes on, so idle workers
  wake at once instead of polling; ``idle``: a flag a worker with free
  slots sets as it goes to sleep, so that only the first enqueue after it
  publishes (a busy fleet is not flooded with one message per job).

Every statistic is read with counting commands on these keys (ZCOUNT,
HGETALL, LRANGE of a capped list): never KEYS, never a scan.
"""

from __future__ import annotations

from dataclasses import dataclass

from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix

from sheepfold.jobs import Priority
from sheepfold_redis import RedisConnection, tag_text

#: Width of one priority band in the index, in ms: about 317 years, more than any epoch-ms due time until 2286.
BAND_WIDTH = 10**13
BANDS = tuple(Priority)
IN_PROGRESS_PREFIX = in_progress_key_prefix


def job_key(arq_id: str) -> str:
    return job_key_prefix + arq_id


def result_key(arq_id: str) -> str:
    return result_key_prefix + arq_id


def retry_key(arq_id: str) -> str:
    return retry_key_prefix + arq_id


def in_progress_key(arq_id: str) -> str:
    return in_progress_key_prefix + arq_id


@dataclass(frozen=True)
class QueueKeys:
    """The keys of one queue (see the module docstring), all in the slot of its hash tag."""

    queue: str
    id_prefix: str
    arq_queue: str
    index: str
    active: tuple[str, ...]
    timeouts: str
    counts: str
    queue_times: tuple[str, ...]
    abort: str
    failed: str
    failed_records: str
    wake: str
    idle: str

    @classmethod
    def of(cls, connection: RedisConnection, queue: str) -> QueueKeys:
        tag = tag_text(f"jobs:{queue}")

        def key(*parts: str | int) -> str:
            return connection.key(*parts, tag=tag)

        return cls(
            queue=queue,
            id_prefix="{" + tag + "}",
            arq_queue=key("queue"),
            index=key("index"),
            active=tuple(key("active", band.value) for band in BANDS),
            timeouts=key("timeouts"),
            counts=key("counts"),
            queue_times=tuple(key("queue-times", band.value) for band in BANDS),
            abort=key("abort"),
            failed=key("failed"),
            failed_records=key("failed-records"),
            wake=key("wake"),
            idle=key("idle"),
        )

    def arq_id(self, job_id: str) -> str:
        """The id arq knows the job ``job_id`` of this queue by: ``{jobs:<queue>}<job_id>``."""
        return self.id_prefix + job_id

    def job_id(self, arq_id: str) -> str:
        """The id callers know a job by, from its arq id (an id without the queue's tag is returned as is)."""
        return arq_id.removeprefix(self.id_prefix)
