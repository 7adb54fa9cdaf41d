"""The arq job adapter as the contract suite uses it: with its workers running in the test's event loop."""

from __future__ import annotations

from sheepfold.jobs import JobRegistry
from sheepfold_jobs import ArqJobs, WorkerPool
from sheepfold_redis import RedisConnection
from tests.support.job_functions import registry_for_tests


class ArqJobsWithWorkers(ArqJobs):
    """An :class:`ArqJobs` that starts a worker for every queue on ``start`` and stops them on ``close``."""

    def __init__(self, connection: RedisConnection, registry: JobRegistry | None = None) -> None:
        super().__init__(connection, registry or registry_for_tests())
        self.pool = WorkerPool(self, self.registry.queues(), idle_poll=0.2, crash_margin=1.0, shutdown_grace=1.0)

    async def start(self) -> None:
        await super().start()
        self.pool.start()

    async def close(self) -> None:
        await self.pool.stop()
        await super().close()
