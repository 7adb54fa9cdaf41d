"""This process's tracer provider: sampler, exporters and resource from ``[telemetry]`` and the ``OTEL_*`` variables.

OpenTelemetry is one per process (its global provider, the instrumentations
that patch redis-py), as logging is: the first app built in a process with
telemetry enabled sets it up, and every later app of the process uses it. A
provider that something else already installed (``opentelemetry-instrument``,
the application's own set-up) is used as it is.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from importlib.metadata import entry_points

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from sheepfold_telemetry.settings import EXPORTER_GROUP, TelemetrySettings, exporter_names

logger = logging.getLogger("sheepfold.telemetry")

#: The service name when neither ``telemetry.service_name``, ``OTEL_SERVICE_NAME`` nor ``OTEL_RESOURCE_ATTRIBUTES``
#: names one.
DEFAULT_SERVICE_NAME = "sheepfold"
#: Where OTLP/HTTP traces go under an endpoint (as ``OTEL_EXPORTER_OTLP_ENDPOINT`` is read).
TRACES_PATH = "/v1/traces"

_process_provider: TracerProvider | None = None


def process_tracer_provider(settings: TelemetrySettings) -> TracerProvider:
    """The provider of this process: set up by the first call (and made global), the same one afterwards."""
    global _process_provider
    if _process_provider is None:
        installed = trace.get_tracer_provider()
        if isinstance(installed, TracerProvider):
            _process_provider = installed
        else:
            _process_provider = build_tracer_provider(settings)
            trace.set_tracer_provider(_process_provider)
        if settings.redis and importlib.util.find_spec("redis") is not None:
            from opentelemetry.instrumentation.redis import RedisInstrumentor

            RedisInstrumentor().instrument(tracer_provider=_process_provider)
    return _process_provider


def build_tracer_provider(settings: TelemetrySettings) -> TracerProvider:
    """A provider with the sampler, resource and exporters that ``settings`` (else ``OTEL_*``) name."""
    sampler = None if settings.sample_ratio is None else ParentBased(TraceIdRatioBased(settings.sample_ratio))
    resource = Resource.create({SERVICE_NAME: settings.service_name} if settings.service_name else {})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(sampler=sampler, resource=resource)  # sampler None: OTEL_TRACES_SAMPLER decides
    if not settings.background:
        provider.sampler = OrphanCallsDropped(provider.sampler)  # read by each tracer when it is made
    for exporter in span_exporters(settings):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def span_exporters(settings: TelemetrySettings) -> list[SpanExporter]:
    """The exporters of ``telemetry.exporter``, else ``OTEL_TRACES_EXPORTER``, else OTLP over HTTP."""
    names = exporter_names(settings.exporter or os.environ.get("OTEL_TRACES_EXPORTER", "") or "otlp")
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "none":
            continue
        if name in ("otlp", "otlp_proto_http"):
            endpoint = settings.endpoint.rstrip("/") + TRACES_PATH if settings.endpoint else None
            exporters.append(OTLPSpanExporter(endpoint=endpoint))  # None: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT
            continue
        found = [entry for entry in entry_points(group=EXPORTER_GROUP) if entry.name == name]
        if not found:
            logger.warning("trace exporter %r is not installed; its spans are not exported", name)
            continue
        exporters.append(found[0].load()())
    return exporters


class OrphanCallsDropped(Sampler):
    """Drops the client spans that would start a trace of their own; every other decision is ``inner``'s.

    A Redis command made outside any request, job or delivery (a worker
    polling its queue, the fleet's heartbeat, the metrics flush) would be a
    trace of one span several times a second per process: noise that costs
    export. ``telemetry.background = true`` keeps them.
    """

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT and not trace.get_current_span(parent_context).get_span_context().is_valid:
            return SamplingResult(Decision.DROP)
        return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"OrphanCallsDropped{{{self.inner.get_description()}}}"
