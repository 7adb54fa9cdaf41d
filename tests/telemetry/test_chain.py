"""One trace from an HTTP request to a WebSocket on another instance, through Redis, a job and a worker process.

Two real ``sheepfold serve`` instances (A and B) and a real ``sheepfold
worker`` on a redis-server of the test's own export their spans over OTLP/HTTP
to a receiver inside the test. A request to A touches Redis and enqueues a
job; the worker runs it and publishes a realtime event; B delivers it to a
WebSocket connected to B. Every one of those spans must carry the request's
trace id, each process's under its own service name.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx

from tests.jobs.test_worker_crash import worker_process
from tests.realtime.served import Client
from tests.support.admin import ADMIN_ENV
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.plugins import disabled_except
from tests.support.redis_server import RedisServer
from tests.support.served_instance import ServedInstance
from tests.telemetry.served_plugins import chain

SERVED_PLUGINS = Path(chain.__file__).parent
NEEDED_PLUGINS = {"redis", "jobs", "realtime", "telemetry"}
SERVER = 2  # SpanKind.SPAN_KIND_SERVER in OTLP
CLIENT = 3
CONSUMER = 5


def chain_settings(directory: Path, redis_url: str) -> Path:
    path = directory / "settings.toml"
    path.write_text(
        f"""
[testing.plugins]
disabled = {disabled_except(NEEDED_PLUGINS)}
directory = "{SERVED_PLUGINS}"

[testing.redis]
url = "{redis_url}"

[testing.pubsub]
backend = "redis"
fallback = "memory"

[testing.jobs]
backend = "arq"
fallback = "spool"
queues = {{ {chain.QUEUE} = {{ concurrency = 2 }} }}
worker = {{ idle_poll = 0.2 }}
"""
    )
    return path


def otel_env(receiver: OtlpReceiver, service: str) -> dict[str, str]:
    """The standard variables only: where to export, under which name, flushed every 50 ms, every trace sampled."""
    return {
        **ADMIN_ENV,
        "OTEL_SERVICE_NAME": service,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    }


@contextlib.contextmanager
def served(settings: Path, env: dict[str, str]):
    instance = ServedInstance(settings, env=env)
    try:
        instance.wait_ready()
        yield instance
    finally:
        instance.close()


def in_trace(spans: list[ReceivedSpan], trace_id: str, service: str, name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.trace_id == trace_id and s.service == service and s.name.startswith(name)]


async def test_one_trace_from_the_request_through_redis_and_a_job_to_a_websocket_on_another_instance(tmp_path):
    with contextlib.ExitStack() as stack:
        receiver = stack.enter_context(OtlpReceiver())
        redis_server = stack.enter_context(RedisServer())
        settings = chain_settings(tmp_path, redis_server.url)
        a = stack.enter_context(served(settings, otel_env(receiver, "chain-a")))
        b = stack.enter_context(served(settings, otel_env(receiver, "chain-b")))
        stack.enter_context(worker_process(settings, queue=chain.QUEUE, **otel_env(receiver, "chain-worker")))

        async with Client.connect(b.url.removeprefix("http://")) as socket_on_b:
            await socket_on_b.subscribe("chain:orders")
            async with httpx.AsyncClient() as client:
                response = await client.post(f"{a.url}/chain/chain:orders")
            assert response.status_code == 200
            job_id = response.json()["job"]
            (event,) = await socket_on_b.wait_for("event", channel="chain:orders", timeout=20)
            assert event["data"]["job"] == job_id

        def request_span(spans: list[ReceivedSpan]) -> ReceivedSpan | None:
            found = [s for s in spans if s.service == "chain-a" and s.kind == SERVER and "/chain/" in s.name]
            return found[0] if found else None

        def whole_chain(spans: list[ReceivedSpan]) -> bool:
            root = request_span(spans)
            return root is not None and all(
                in_trace(spans, root.trace_id, service, name)
                for service, name in [
                    ("chain-a", "INCRBY"),
                    ("chain-a", "EVALSHA"),
                    ("chain-worker", "job announce"),
                    ("chain-worker", "PUBLISH"),
                    ("chain-b", "realtime deliver"),
                ]
            )

        spans = receiver.wait_for(whole_chain)

    root = request_span(spans)
    assert root is not None and root.parent_id == ""  # the request started the trace
    trace = root.trace_id
    (job,) = in_trace(spans, trace, "chain-worker", "job announce")
    assert job.kind == CONSUMER and job.attributes["sheepfold.job.id"] == job_id
    assert job.attributes["sheepfold.job.try"] == 1
    # The job's parent is a span of A's request (the enqueue happened inside it), in another process.
    a_span_ids = {s.span_id for s in spans if s.trace_id == trace and s.service == "chain-a"}
    assert job.parent_id in a_span_ids
    # The worker's PUBLISH is inside the job; B's delivery continues from it, on the other instance.
    (publish,) = in_trace(spans, trace, "chain-worker", "PUBLISH")
    assert publish.parent_id == job.span_id
    (deliver,) = in_trace(spans, trace, "chain-b", "realtime deliver")
    assert deliver.parent_id == publish.parent_id or deliver.parent_id in {publish.span_id, job.span_id}
    assert deliver.attributes["sheepfold.realtime.channel"] == "chain:orders"
    # Redis commands outside any trace (the worker polling, heartbeats) start no trace of their own.
    assert not [s for s in spans if s.kind == CLIENT and s.parent_id == ""]
