"""sheepfold-telemetry in one process: its settings, the request span, JSON log lines joined to it, span events.

The spans are read from an in-memory exporter added to the process's tracer
provider (one per process, as OpenTelemetry is); the apps export nothing else.
"""

from __future__ import annotations

import json
import logging
import os

import httpx
import pytest
from blacksheep import Response, Router, text
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import sheepfold_telemetry.plugin as telemetry_plugin
from sheepfold import Platform, PlatformApplication, SettingsError, create_app, hookimpl
from sheepfold.logs import JsonLogFormatter
from sheepfold.state import State
from sheepfold_telemetry.provider import build_tracer_provider, process_tracer_provider, span_exporters
from sheepfold_telemetry.settings import TelemetrySettings
from sheepfold_telemetry.tracing import Tracing, starts_no_trace
from tests.support.plugins import needs
from tests.support.ports import spare_port

QUIET = {"telemetry": {"exporter": "none"}}
_collector: InMemorySpanExporter | None = None


def collected() -> InMemorySpanExporter:
    """The in-memory exporter of this process's provider, emptied."""
    global _collector
    if _collector is None:
        _collector = InMemorySpanExporter()
        process_tracer_provider(TelemetrySettings(exporter="none")).add_span_processor(SimpleSpanProcessor(_collector))
    _collector.clear()
    return _collector


class RoutesPlugin:
    name = "telemetry_routes_for_tests"

    @hookimpl
    def sheepfold_register_routes(self, router: Router, platform: Platform) -> None:
        async def hello() -> Response:
            logging.getLogger("tests.telemetry").warning("hello from the handler")
            return text("hello")

        async def read_state() -> Response:
            value = await platform.require(State).get("telemetry-test")
            return text(repr(value))

        router.add_get("/hello", hello)
        router.add_get("/state", read_state)


async def get(app: PlatformApplication, *paths: str) -> list[httpx.Response]:
    """GET each path through the app's ASGI entry (where the OpenTelemetry middleware is), between start and stop."""
    await app.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return [await client.get(path) for path in paths]
    finally:
        await app.stop()


def server_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.kind is SpanKind.SERVER]


def test_bad_telemetry_settings_stop_start_up_naming_each_key():
    with pytest.raises(SettingsError) as raised:
        create_app(
            {"telemetry": {"sample_ratio": 2, "exporter": "carrier-pigeon", "redis": "yes"}},
            plugins=[telemetry_plugin],
            load_entry_points=False,
        )
    report = str(raised.value)
    for key in ("telemetry.sample_ratio", "telemetry.exporter", "telemetry.redis"):
        assert key in report


async def test_a_request_is_a_server_span_and_its_json_log_lines_carry_its_trace_and_span_ids():
    exporter = collected()
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(JsonLogFormatter().format(record))  # type: ignore[method-assign]
    logging.getLogger("tests.telemetry").addHandler(handler)
    try:
        app = create_app(QUIET, plugins=[telemetry_plugin, RoutesPlugin()], load_entry_points=False)
        (response,) = await get(app, "/hello")
    finally:
        logging.getLogger("tests.telemetry").removeHandler(handler)
    assert response.status_code == 200
    (span,) = server_spans(exporter)
    assert span.name == "GET /hello" and span.attributes is not None
    (line,) = [json.loads(line) for line in lines]
    assert line["message"] == "hello from the handler"
    assert line["trace_id"] == f"{span.context.trace_id:032x}"
    assert line["span_id"] == f"{span.context.span_id:016x}"


@needs("sheepfold_redis")
async def test_a_capability_switching_to_its_fallback_is_a_span_event():
    exporter = collected()
    import sheepfold_redis.plugin as redis_plugin

    dead_redis = f"redis://127.0.0.1:{spare_port()}"
    app = create_app(
        {**QUIET, "redis": {"url": dead_redis}, "state": {"backend": "redis", "fallback": "memory"}},
        plugins=[redis_plugin, telemetry_plugin, RoutesPlugin()],
        load_entry_points=False,
    )
    (response,) = await get(app, "/state")
    assert response.status_code == 200  # served by the fallback
    # The outage is found when the platform starts (outside any request): the event is in a span of its own.
    (switch,) = [
        event
        for span in exporter.get_finished_spans()
        for event in span.events
        if event.name == "sheepfold.fallback.switch" and span.name == "sheepfold.fallback.switch"
    ]
    assert switch.attributes is not None
    assert switch.attributes["sheepfold.capability"] == "state"
    assert switch.attributes["sheepfold.phase"] == "fallback"
    assert "Connect" in str(switch.attributes["sheepfold.error"])


@needs("sheepfold_ratelimit")
async def test_a_rate_limit_refusal_is_an_event_of_the_refused_request():
    exporter = collected()
    from tests.ratelimit.app_for_tests import limited_app

    app = limited_app(None, telemetry_plugin, **QUIET)
    responses = await get(app, "/strict", "/strict", "/strict")
    assert [r.status_code for r in responses] == [200, 200, 429]
    refused = [
        event for span in server_spans(exporter) for event in span.events if event.name == "sheepfold.ratelimit.refused"
    ]
    assert len(refused) == 1 and refused[0].attributes is not None
    assert refused[0].attributes["sheepfold.ratelimit.policy"] == "strict"
    assert refused[0].attributes["sheepfold.ratelimit.reason"] == "limited"


def test_sampling_at_zero_records_nothing_and_the_otel_variables_name_service_and_exporter(monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-the-environment")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    provider = build_tracer_provider(TelemetrySettings(sample_ratio=0.0))
    assert provider.resource.attributes["service.name"] == "from-the-environment"
    assert not provider.get_tracer("test").start_span("request").is_recording()
    assert [type(e) for e in span_exporters(TelemetrySettings())] == [ConsoleSpanExporter]
    # A setting wins over its variable.
    named = build_tracer_provider(TelemetrySettings(service_name="from-settings", exporter="none"))
    assert named.resource.attributes["service.name"] == "from-settings"
    assert span_exporters(TelemetrySettings(exporter="none")) == []


async def test_at_sampling_zero_only_requests_bringing_a_trace_context_go_through_the_middleware():
    exporter = collected()
    caller = "0af7651916cd43dd8448eb211c80319c"
    app = create_app(
        {"telemetry": {"exporter": "none", "sample_ratio": 0}},
        plugins=[telemetry_plugin, RoutesPlugin()],
        load_entry_points=False,
    )
    await app.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            plain = await client.get("/hello")
            carried = await client.get("/hello", headers={"traceparent": f"00-{caller}-b7ad6b7169203331-01"})
    finally:
        await app.stop()
    assert plain.status_code == carried.status_code == 200
    # The process's sampler (every trace, in these tests) records what reaches the middleware: only the second.
    (span,) = server_spans(exporter)
    assert f"{span.context.trace_id:032x}" == caller


def test_sampling_that_starts_no_trace_is_read_from_the_setting_else_the_sdk_variables():
    assert starts_no_trace(TelemetrySettings(sample_ratio=0.0), {"OTEL_TRACES_SAMPLER": "always_on"})
    assert not starts_no_trace(TelemetrySettings(sample_ratio=0.01), {"OTEL_TRACES_SAMPLER": "always_off"})
    assert starts_no_trace(TelemetrySettings(), {"OTEL_TRACES_SAMPLER": "parentbased_always_off"})
    ratio_zero = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    assert starts_no_trace(TelemetrySettings(), ratio_zero)
    assert not starts_no_trace(TelemetrySettings(), {**ratio_zero, "OTEL_TRACES_SAMPLER_ARG": "0.5"})
    assert not starts_no_trace(TelemetrySettings(), {})


def test_a_jobs_first_try_continues_the_carried_trace_and_a_retry_starts_one_linked_to_it():
    exporter = collected()
    tracing = create_app(QUIET, plugins=[telemetry_plugin], load_entry_points=False).platform.require(Tracing)
    caller, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    carrier = {"traceparent": f"00-{caller}-{parent}-01"}
    with tracing.continued(carrier, "job greet", {"sheepfold.job.try": 1}, linked=False):
        pass
    with tracing.continued(carrier, "job greet", {"sheepfold.job.try": 2}, linked=True):
        pass
    first, retry = exporter.get_finished_spans()
    assert first.kind is SpanKind.CONSUMER and first.parent is not None
    assert (f"{first.context.trace_id:032x}", f"{first.parent.span_id:016x}") == (caller, parent)
    assert retry.parent is None and f"{retry.context.trace_id:032x}" != caller
    (link,) = retry.links
    assert (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") == (caller, parent)


def test_nothing_traces_until_settings_or_the_otel_variables_say_where_traces_go():
    assert not TelemetrySettings().exports({"OTEL_SERVICE_NAME": "web"})
    assert TelemetrySettings().exports({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert TelemetrySettings().exports({"OTEL_TRACES_EXPORTER": "console"})
    assert TelemetrySettings(exporter="none").exports({})
    assert TelemetrySettings(endpoint="http://127.0.0.1:4318").exports({})


@needs("sheepfold_redis")
async def test_with_no_exporter_named_no_call_reaches_the_tracing_hooks(monkeypatch, redis_url, redis_prefix):
    """Installed but not tracing: Redis commands, jobs and messages pay for no hook call."""
    from opentelemetry import trace

    import sheepfold_redis.plugin as redis_plugin
    from sheepfold_redis import RedisConnection

    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    # A process where nobody set up OpenTelemetry (another test of this process has).
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    app = create_app(
        {"redis": {"url": redis_url, "prefix": redis_prefix}, "state": {"backend": "redis", "fallback": "memory"}},
        plugins=[redis_plugin, telemetry_plugin, RoutesPlugin()],
        load_entry_points=False,
    )
    (response,) = await get(app, "/state")
    assert response.status_code == 200
    platform = app.platform
    assert platform.propagation.enabled is False
    assert "telemetry.tracing" not in platform.plugins.infos
    connection = platform.require(RedisConnection)
    assert connection.multiplexed is not None and connection.execute == connection.multiplexed.execute
