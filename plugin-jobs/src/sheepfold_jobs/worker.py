"""Workers for the arq adapter: arq's own job runner, told what to run by priority and woken by enqueues.

:class:`QueueWorker` is an ``arq.worker.Worker`` for one queue. arq runs
each job as usual (its job data, retry counter, timeout, result and abort
keys), so a job may equally be run by a stock arq worker. What changes is
how jobs are picked and when:

- picking is one script (:data:`~sheepfold_jobs.scripts.CLAIM`) that takes
  the next due jobs by priority, takes arq's in-progress lock for each,
  records a lease, and claims no more than the worker has free slots for;
- the worker sleeps until an enqueue publishes on the queue's wake channel,
  a job of its own ends, the next deferred job is due, or ``idle_poll``
  seconds pass (for leases of dead workers): no busy polling;
- finishing is one script (:data:`~sheepfold_jobs.scripts.FINISH`) that does
  what arq's ``finish_job`` does and keeps the statistics and failed list. A
  finish Redis cannot take (it is down) is kept and recorded first thing when
  it answers again, before the job's lease runs out, so a job that finished
  during an outage does not run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from arq.jobs import deserialize_result
from arq.worker import Function, Retry, Worker, func

from sheepfold import BACKEND_FAILURES
from sheepfold.jobs import FailedJob, JobContext, JobDefinition, Priority
from sheepfold.jobs.statistics import QUEUE_TIME_SAMPLES
from sheepfold_jobs import keys, scripts
from sheepfold_jobs.adapter import CARRIER_KEY, ArqJobs, describe
from sheepfold_jobs.keys import BAND_WIDTH, IN_PROGRESS_PREFIX
from sheepfold_jobs.outage_log import OutageLog
from sheepfold_redis import REDIS_FAILURES

if TYPE_CHECKING:
    from sheepfold.platform import Platform
    from sheepfold.tasks import BackgroundTasks

logger = logging.getLogger("sheepfold.jobs.worker")

#: Seconds a busy worker waits before claiming again, to claim in batches.
CLAIM_GATHER = 0.002
ScriptArg = bytes | str | int | float
#: What a finish that Redis could not take raises: it is kept and recorded again (see the module).
REDIS_DOWN: tuple[type[BaseException], ...] = (*BACKEND_FAILURES, *REDIS_FAILURES)
#: Seconds between checks of the queue's abort set (aborting a running job takes at most this, plus a wake-up).
ABORT_CHECK_INTERVAL = 0.1
#: Milliseconds an abort waits in the set for its job to start running before it is dropped.
ABORT_MAX_AGE_MS = 60_000


class QueueWorker(Worker):
    """An arq worker for one sheepfold queue, claiming by priority and woken by enqueues (see the module)."""

    def __init__(
        self,
        jobs: ArqJobs,
        queue: str,
        *,
        concurrency: int,
        tasks: BackgroundTasks,
        idle_poll: float = 1.0,
        crash_margin: float = 10.0,
        platform: Platform | None = None,
    ) -> None:
        self.jobs = jobs
        self.background = tasks  # not `tasks`: arq's Worker keeps its job tasks there
        self.queue = queue
        self.queue_keys = jobs.keys(queue)
        self.platform = platform
        self.wake = asyncio.Event()
        self.claimed: dict[str, tuple[Priority, int]] = {}
        self.succeeded: set[str] = set()
        self.failures: dict[str, FailedJob] = {}
        #: Finishes Redis did not take (it was down), by job id: the FINISH script's keys and args, in order.
        self.unrecorded: dict[str, tuple[list[str], list[ScriptArg]]] = {}
        functions = [arq_function(definition, self) for definition in jobs.registry]
        super().__init__(
            functions=functions,
            queue_name=self.queue_keys.arq_queue,
            redis_pool=jobs.redis,
            max_jobs=concurrency,
            poll_delay=idle_poll,
            handle_signals=False,
            # Aborts are this worker's own business, on its queue's abort set (arq's one set for every queue
            # would put each job start on one Cluster slot): arq is told nothing, and checks nothing.
            allow_abort_jobs=False,
            log_results=False,
            max_tries=max((definition.max_tries for definition in jobs.registry), default=5),
            job_deserializer=read_job,
        )
        # A claim's lease is arq's in-progress lock: the job's own timeout plus a margin (the claim
        # script reads it); jobs enqueued without one (by plain arq) get the longest timeout plus the
        # margin, as arq computes it. A worker that dies leaves its jobs to others once it lapses.
        self.crash_margin = crash_margin
        self.in_progress_timeout_s = max((d.timeout for d in jobs.registry), default=300.0) + crash_margin
        self._claim = jobs.connection.script(scripts.CLAIM)
        self._finish = jobs.connection.script(scripts.FINISH)
        self._next_due_ms = -1
        self._abort_checked = 0.0
        self._outage = OutageLog(
            logger, f"queue {queue}", attempt="poll", retrying=f"polling every {self.poll_delay_s:g} s"
        )

    async def main(self) -> None:
        self.ctx["redis"] = self.pool
        while self.allow_pick_jobs:
            if self.job_counter:
                # Busy: let a moment's worth of finished jobs and enqueues gather, so one claim takes
                # several jobs instead of one round trip per freed slot. Idle, a job is claimed at once.
                await asyncio.sleep(CLAIM_GATHER)
            self.wake.clear()
            try:
                await self._poll_iteration()
            except REDIS_DOWN as error:
                self._outage.failed(error)
            except Exception:
                # Not an outage: a fault worth its traceback at every turn.
                logger.warning("queue %s: polling Redis failed; retrying", self.queue, exc_info=True)
            else:
                self._outage.answered()
            await self._sleep()

    async def _sleep(self) -> None:
        # call_later rather than asyncio.timeout: on Python 3.11 a timeout expiring as the task is
        # cancelled can swallow the cancellation, and the worker would never stop.
        wait = self.poll_delay_s
        if self._next_due_ms >= 0:
            wait = min(wait, max(self._next_due_ms / 1000 - time.time(), 0.0))
        alarm = asyncio.get_running_loop().call_later(wait, self.wake.set)
        try:
            await self.wake.wait()
        finally:
            alarm.cancel()

    async def _poll_iteration(self) -> None:
        if self.unrecorded:
            await self._record_unrecorded()  # before claiming: their leases are running out
        free = self.max_jobs - self.job_counter
        # No free slot: nothing could be claimed at the next due time either, so wait for a slot.
        self._next_due_ms = -1
        if self.allow_pick_jobs and free > 0:
            # With the fraction of a ms: the index orders jobs of one ms by it, and a truncated "now"
            # would leave the later-enqueued of them due while an earlier, higher one is not yet.
            now_ms = f"{time.time() * 1000:.3f}"
            queue_keys = self.queue_keys
            reply = await self._claim(
                keys=[queue_keys.arq_queue, queue_keys.index, *queue_keys.active, *queue_keys.queue_times,
                      queue_keys.idle, queue_keys.timeouts],
                args=[now_ms, free, int(self.in_progress_timeout_s * 1000), BAND_WIDTH, IN_PROGRESS_PREFIX,
                      QUEUE_TIME_SAMPLES, int(self.poll_delay_s * 2000), int(self.crash_margin * 1000)],
            )  # fmt: skip
            self._next_due_ms = int(reply[-1])
            for at in range(0, len(reply) - 1, 3):
                await self._start(reply[at].decode(), Priority(int(reply[at + 1])), int(float(reply[at + 2])))
        if time.monotonic() - self._abort_checked >= ABORT_CHECK_INTERVAL:
            self._abort_checked = time.monotonic()
            await self._cancel_aborted_jobs()
        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                # Normally gone with the finish script; left behind when Redis failed mid-job.
                self.claimed.pop(job_id, None)
                self.succeeded.discard(job_id)
                self.failures.pop(job_id, None)
                task.result()
        await self.heart_beat()

    async def _start(self, job_id: str, band: Priority, score: int) -> None:
        await self.sem.acquire()  # never waits: no more jobs were claimed than there were free slots
        self.job_counter += 1
        self.claimed[job_id] = (band, score)
        task = self.background.spawn(self.run_job(job_id, score), name=f"job-{job_id}")
        task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
        self.tasks[job_id] = task

    async def _cancel_aborted_jobs(self) -> None:
        """Cancel the running jobs named in the queue's abort set; entries older than a minute are dropped.

        An abort of a job claimed but not started yet stays in the set until
        its function runs, and cancels it then (at most :data:`ABORT_CHECK_INTERVAL`
        later); one whose job ended first goes with the job's finish.
        """
        abort = self.queue_keys.abort
        async with self.jobs.pipeline() as pipe:
            pipe.zremrangebyscore(abort, "-inf", int(time.time() * 1000) - ABORT_MAX_AGE_MS)
            pipe.zrange(abort, 0, -1)
            _, named = await pipe.execute()
        aborted = [job_id for job_id in (name.decode() for name in named) if job_id in self.job_tasks]
        for job_id in aborted:
            self.job_tasks[job_id].cancel()
        if aborted:
            self.aborting_tasks.update(aborted)
            await self.pool.zrem(abort, *aborted)

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        self.wake.set()  # a free slot: claim the next job now, not at the next poll

    async def finish_job(
        self,
        job_id: str,
        finish: bool,
        result_data: bytes | None,
        result_timeout_s: float | None,
        keep_result_forever: bool,
        incr_score: int | None,
        keep_in_progress: float | None,
    ) -> None:
        outcome = "done" if job_id in self.succeeded else "failed"
        mode = outcome if finish else "retry" if incr_score else "requeue"
        ttl_ms = 0 if keep_result_forever or result_timeout_s is None else max(int(result_timeout_s * 1000), 1)
        await self._run_finish(job_id, mode, result_data or b"", ttl_ms, incr_score or 0)

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        # Jobs that never reached their function: tries used up by crashes, unknown function, expired data.
        if job_id not in self.failures and result_data is not None:
            stored = deserialize_result(result_data)
            band = self.claimed.get(job_id, (Priority.NORMAL, 0))[0]
            self.failures[job_id] = FailedJob(
                self.queue_keys.job_id(job_id), stored.function, self.queue, band, tuple(stored.args),
                dict(stored.kwargs), stored.job_try, describe(stored.result), time.time(),
            )  # fmt: skip
        ttl_ms = 0 if self.keep_result_forever else max(int(self.keep_result_s * 1000), 1)
        await self._run_finish(job_id, "failed", result_data or b"", ttl_ms, 0)

    async def _run_finish(self, job_id: str, mode: str, result_data: bytes, ttl_ms: int, incr_score: int) -> None:
        band, _score = self.claimed.pop(job_id, (Priority.NORMAL, 0))
        self.succeeded.discard(job_id)
        failure = self.failures.pop(job_id, None)
        queue_keys = self.queue_keys
        script_keys = [keys.job_key(job_id), keys.retry_key(job_id), keys.in_progress_key(job_id),
                       keys.result_key(job_id), queue_keys.abort, queue_keys.arq_queue, queue_keys.index,
                       queue_keys.active[band], queue_keys.counts, queue_keys.failed, queue_keys.failed_records,
                       queue_keys.timeouts]  # fmt: skip
        script_args: list[ScriptArg] = [
            job_id, mode, result_data, ttl_ms, band.value, band * BAND_WIDTH, incr_score,
            pickle.dumps(failure) if failure is not None else b"", int(time.time() * 1000), self.jobs.failed_max,
        ]  # fmt: skip
        try:
            await self._finish(keys=script_keys, args=script_args)
        except REDIS_DOWN as error:
            self.unrecorded[job_id] = (script_keys, script_args)
            logger.warning("queue %s: job %s ended (%s) while Redis is down (%s); recorded when it returns",
                           self.queue, job_id, mode, error)  # fmt: skip

    async def _record_unrecorded(self) -> None:
        """Record the finishes Redis could not take, oldest first; a failure raises and keeps the rest."""
        for job_id, (script_keys, script_args) in list(self.unrecorded.items()):
            await self._finish(keys=script_keys, args=script_args)
            del self.unrecorded[job_id]
            logger.info("queue %s: job %s's end recorded after the outage", self.queue, job_id)

    def stop_claiming(self) -> None:
        """End :meth:`main` at its next turn (it is woken now): no job is claimed after this."""
        self.allow_pick_jobs = False
        self.wake.set()

    async def stop(self, grace: float) -> None:
        """Claim nothing more, let running jobs finish for ``grace`` seconds, then cancel them (they run again).

        Finishes still unrecorded (Redis down) get one last try; those jobs run again when their leases lapse.
        """
        self.stop_claiming()
        running = [task for task in self.tasks.values() if not task.done()]
        if running:
            _done, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.unrecorded:
            try:
                await self._record_unrecorded()
            except REDIS_DOWN:
                logger.error("queue %s: %d job end(s) never recorded (Redis down); they will run again",
                             self.queue, len(self.unrecorded))  # fmt: skip


#: The trace carrier of the job whose data was just read: set by :func:`read_job` in arq's ``run_job`` task,
#: and so seen by the task arq then starts for the job's function (a task copies its creator's context).
_job_carrier: ContextVar[dict[str, str] | None] = ContextVar("sheepfold_job_carrier", default=None)


def read_job(raw: bytes) -> dict[str, Any]:
    """arq's job deserializer (pickle), noting the trace carrier the job's data keeps (``CARRIER_KEY``)."""
    data: dict[str, Any] = pickle.loads(raw)
    _job_carrier.set(data.get(CARRIER_KEY))
    return data


def arq_function(definition: JobDefinition, worker: QueueWorker) -> Function:
    """The arq function that runs ``definition`` with sheepfold's context, timeout and retry policy.

    A failed try that has tries left raises arq's ``Retry`` with the
    definition's backoff; otherwise the error stands and the job is recorded
    for the failed list. arq's own timeout is a backstop a second later.
    Each try runs in ``platform.propagation.continued(...)``: the trace it
    was enqueued in goes on (a retry starts a trace linked to it).
    """
    operation = f"job {definition.name}"

    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        arq_id, job_try = ctx["job_id"], ctx["job_try"]
        job_id = worker.queue_keys.job_id(arq_id)
        band = worker.claimed.get(arq_id, (Priority.NORMAL, 0))[0]
        context = JobContext(
            job_id, job_try, definition.name, worker.queue, band, ctx["enqueue_time"].timestamp(), worker.platform
        )
        attributes: dict[str, str | int] = {"sheepfold.job.id": job_id, "sheepfold.job.queue": worker.queue,
                                            "sheepfold.job.try": job_try}  # fmt: skip
        continued = (
            worker.platform.propagation.continued(_job_carrier.get(), operation, attributes, linked=job_try > 1)
            if worker.platform is not None
            else contextlib.nullcontext()
        )
        try:
            with continued:
                async with asyncio.timeout(definition.timeout):
                    value = await definition.function(context, *args, **kwargs)
        except Exception as error:
            delay = definition.retry_delay(job_try, error)
            if delay is not None:
                raise Retry(defer=delay) from error
            worker.failures[arq_id] = FailedJob(
                job_id, definition.name, worker.queue, band, args, kwargs, job_try,
                definition.describe_failure(error), time.time(),
            )  # fmt: skip
            raise
        worker.succeeded.add(arq_id)
        return value

    return func(
        run,
        name=definition.name,
        timeout=definition.timeout + 1,
        max_tries=definition.max_tries,
        keep_result=definition.keep_result,
    )
