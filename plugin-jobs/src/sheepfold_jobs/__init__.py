"""sheepfold-jobs: the arq adapter of sheepfold's job-queue port, its workers, and the outage spool.

``[jobs] backend = "arq"`` puts jobs on Redis through arq (the shared
connection of ``sheepfold-redis``), with ``fallback = "spool"`` (hold jobs
locally while Redis is down) or ``"memory"`` (run them in-process).
``sheepfold worker`` runs workers; ``jobs.worker.embedded`` runs them in the
server process.
"""

from sheepfold_jobs.adapter import ArqJobs
from sheepfold_jobs.arq_pool import arq_redis
from sheepfold_jobs.runner import WorkerPool
from sheepfold_jobs.spool import SpooledJobs
from sheepfold_jobs.worker import QueueWorker, arq_function

__all__ = ["ArqJobs", "QueueWorker", "SpooledJobs", "WorkerPool", "arq_function", "arq_redis"]
