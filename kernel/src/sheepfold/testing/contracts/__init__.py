"""The port contract suites: what makes an adapter a matching one, for the kernel's, a plugin's or yours.

Each is a class of tests; subclass it in a test module (its name must start
with ``Test``) and give the fixture it names, yielding a fresh, started,
empty adapter and closing it afterwards::

    from sheepfold.testing.contracts import StateContract

    class TestMyState(StateContract):
        @pytest.fixture
        async def state(self):
            adapter = MyState(...)
            await adapter.start()
            yield adapter
            await adapter.close()

A fixture with ``params`` runs the whole contract once per adapter (this
repository's tests run memory, fakeredis, Redis and Redis Cluster so). The
job-queue contract enqueues the functions of :func:`contract_job_registry`:
build the adapter with that registry, its workers running.
"""

from sheepfold.testing.contracts.cache import CacheContract
from sheepfold.testing.contracts.job_functions import registry_for_tests as contract_job_registry
from sheepfold.testing.contracts.jobs import JobsContract
from sheepfold.testing.contracts.pubsub import PubSubContract
from sheepfold.testing.contracts.ratelimit import RateLimiterContract
from sheepfold.testing.contracts.session_records import SessionRecordsContract
from sheepfold.testing.contracts.state import StateContract

__all__ = [
    "CacheContract",
    "JobsContract",
    "PubSubContract",
    "RateLimiterContract",
    "SessionRecordsContract",
    "StateContract",
    "contract_job_registry",
]
