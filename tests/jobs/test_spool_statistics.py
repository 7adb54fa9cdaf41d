"""The spool (the arq adapter's fallback) answers statistics for one queue as the port says."""

from __future__ import annotations

import pytest

from sheepfold.jobs import UnknownJobQueue
from sheepfold_jobs import SpooledJobs
from tests.support.job_functions import SERIAL_QUEUE, fresh_key, registry_for_tests


async def test_spool_statistics_of_one_queue_count_only_its_spooled_jobs():
    spool = SpooledJobs(registry_for_tests())
    key = fresh_key()
    await spool.enqueue("record_order", (key, "a"), priority="high")
    await spool.enqueue("record_order", (key, "b"), delay=30)
    await spool.enqueue("record", (key,))
    serial = await spool.statistics(queue=SERIAL_QUEUE)
    assert list(serial.queues) == [SERIAL_QUEUE]
    assert serial.queues[SERIAL_QUEUE]["high"].waiting == 1
    assert serial.queues[SERIAL_QUEUE]["normal"].delayed == 1
    assert (await spool.statistics()).queues["default"]["normal"].waiting == 1


async def test_spool_statistics_of_an_unknown_queue_is_refused():
    with pytest.raises(UnknownJobQueue):
        await SpooledJobs(registry_for_tests()).statistics(queue="nowhere")


async def test_a_spooled_job_is_handed_to_redis_with_the_trace_it_was_enqueued_in():
    class Carrying:
        def carrier(self) -> dict[str, str]:
            return {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}

    class Backend:
        carriers: list = []

        async def enqueue(self, *args, carrier=None, **kwargs):
            self.carriers.append(carrier)

    spool = SpooledJobs(registry_for_tests(), propagation=Carrying())
    await spool.enqueue("record", (fresh_key(),))
    backend = Backend()
    assert await spool.hand_over(backend) == 1
    assert backend.carriers == [Carrying().carrier()]
