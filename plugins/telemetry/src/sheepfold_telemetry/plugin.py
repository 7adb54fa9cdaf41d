"""The telemetry hooks: settings, the process's tracer provider, the ASGI middleware, propagation and span events."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Awaitable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from blacksheep import Application
from dynaconf import Validator
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider

from sheepfold import Platform, hookimpl
from sheepfold.types import ASGIApp
from sheepfold_telemetry import settings as telemetry_settings
from sheepfold_telemetry.provider import process_tracer_provider
from sheepfold_telemetry.settings import TelemetrySettings, is_collector_url
from sheepfold_telemetry.tracing import Tracing

logger = logging.getLogger("sheepfold.telemetry")
#: Seconds the shut-down of an app waits for the spans still buffered to be exported.
FLUSH_TIMEOUT = 5.0
#: OpenTelemetry's loggers that warn, at WARNING and quoting it whole, about each malformed ``traceparent`` or
#: ``baggage`` header a request brings: a client's mistake, ignored as the W3C says, must not let one request
#: write a megabyte (or a hundred lines) of warnings.
HEADER_LOGGERS = ("opentelemetry.trace.propagation.tracecontext", "opentelemetry.baggage.propagation")


#: The functions of ``opentelemetry.trace.span`` that warn about a malformed inbound ``tracestate`` (``TraceState``'s
#: parsing of the header, and its constructor, which ``from_header`` hands the members to).
TRACESTATE_PARSING = frozenset({"from_header", "__init__"})


class _NoTracestateWarnings(logging.Filter):
    """Drops the warnings of ``TraceState``'s parsing (a malformed inbound ``tracestate``), each quoting a member."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.funcName not in TRACESTATE_PARSING


_NO_TRACESTATE_WARNINGS = _NoTracestateWarnings()


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return telemetry_settings.validators()


@hookimpl
def sheepfold_configure_app(platform: Platform) -> None:
    settings = TelemetrySettings.from_settings(platform.settings)
    platform.provide(TelemetrySettings, settings)
    if not settings.enabled or not is_collector_url(settings.endpoint):
        return  # a bad endpoint is a settings problem already: no process-wide provider may keep it
    if not settings.exports(os.environ) and not isinstance(trace.get_tracer_provider(), TracerProvider):
        # Nowhere to send traces: tracing would only cost every request (as a default `make run` or fleet would).
        logger.info("telemetry: no trace exporter named (telemetry.exporter, OTEL_TRACES_EXPORTER, ...): not tracing")
        return
    quiet_header_warnings()
    tracing = Tracing(process_tracer_provider(settings), settings)
    platform.provide(Tracing, tracing)
    platform.plugins.register(TracingHooks(tracing), name="telemetry.tracing")
    # Now, before the capabilities start: a backend found down at start-up is a switch too.
    for switch in platform.capabilities.values():
        switch.add_listener(tracing.switch_changed)


@hookimpl
def sheepfold_wrap_asgi(asgi: ASGIApp, platform: Platform) -> ASGIApp | None:
    tracing = platform.find(Tracing)
    if tracing is None:
        return None
    excluded = ",".join(tracing.settings.excluded_paths) or None  # None: OTEL_PYTHON_ASGI_EXCLUDED_URLS
    # One span per request (or WebSocket connection); no span for each receive and send of its body or messages.
    traced: ASGIApp = OpenTelemetryMiddleware(
        asgi, excluded_urls=excluded, tracer_provider=tracing.provider, exclude_spans=["receive", "send"]
    )
    if not tracing.starts_no_trace:
        return traced
    return carried_only(traced, asgi, propagate.get_global_textmap().fields)


def quiet_header_warnings() -> None:
    """Keep OpenTelemetry from logging the trace headers it refuses (process-wide, once is enough)."""
    for name in HEADER_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("opentelemetry.trace.span").addFilter(_NO_TRACESTATE_WARNINGS)  # a set: added once


def carried_only(traced: ASGIApp, untraced: ASGIApp, fields: set[str]) -> ASGIApp:
    """``traced`` for a request that brings a trace context (one of the propagators' ``fields``), else ``untraced``.

    For a sampler that starts no trace (sampling 0): such a request would
    only get a span nobody records, at the price of the whole middleware (a
    few times what the kernel costs a request). A caller's context still
    goes through the middleware, so a trace that a caller sampled goes on
    here, and one it did not is not started again downstream. A plain
    function, not a coroutine: no frame of its own on the request path.
    """
    names = frozenset(field.lower().encode() for field in fields)

    def route(scope: Any, receive: Any, send: Any) -> Awaitable[None]:
        for name, _value in scope.get("headers", ()):
            if name in names:
                return traced(scope, receive, send)
        return untraced(scope, receive, send)

    return route


class TracingHooks:
    """The hooks that trace, registered only in an app that traces.

    Not on the module: with tracing off (no exporter named), no Redis
    command, job or realtime message would pay for a hook call that finds
    nothing to do (``platform.propagation.enabled`` stays False).
    """

    def __init__(self, tracing: Tracing) -> None:
        self.tracing = tracing

    @hookimpl
    def sheepfold_propagation_send(self, carrier: dict[str, str]) -> None:
        self.tracing.inject(carrier)

    @hookimpl
    def sheepfold_propagation_receive(
        self, carrier: Mapping[str, str], operation: str, attributes: dict[str, str | int], linked: bool
    ) -> AbstractContextManager[trace.Span]:
        return self.tracing.continued(carrier, operation, attributes, linked)

    @hookimpl
    def sheepfold_span(self, operation: str, attributes: dict[str, str | int]) -> AbstractContextManager[trace.Span]:
        return self.tracing.client_span(operation, attributes)


@hookimpl
def sheepfold_startup(app: Application, platform: Platform) -> None:
    tracing = platform.find(Tracing)
    if tracing is None:
        return
    if importlib.util.find_spec("sheepfold_ratelimit") is not None:
        from sheepfold_ratelimit import RateLimitMiddleware

        limiter = platform.find(RateLimitMiddleware)
        if limiter is not None:
            limiter.add_refusal_listener(tracing.rate_limit_refused)
    if tracing.settings.database and importlib.util.find_spec("sqlalchemy") is not None:
        _instrument_engine(platform, tracing)


def _instrument_engine(platform: Platform, tracing: Tracing) -> None:
    """Trace the SQL of ``sheepfold-database``'s engine (its ``AsyncEngine`` service), once per process."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from sqlalchemy.ext.asyncio import AsyncEngine

    engine = platform.find(AsyncEngine)
    if engine is not None:
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=tracing.provider)


@hookimpl
def sheepfold_shutdown(platform: Platform) -> None:
    tracing = platform.find(Tracing)
    if tracing is not None:
        # Flushed, not shut down: other apps of this process (tests) may still trace with the same provider.
        tracing.provider.force_flush(int(FLUSH_TIMEOUT * 1000))
