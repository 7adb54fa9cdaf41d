"""What one app traces with: its tracer, the carrier it hands over with work, and the span events it adds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import AttributeValue

from sheepfold import FallbackSwitch, Phase
from sheepfold_telemetry.settings import TelemetrySettings

#: The instrumentation scope of sheepfold's own spans (jobs, deliveries, fallback switches).
SCOPE = "sheepfold"


class Tracing:
    """The app's tracer (from the process's provider) and what the telemetry hooks do with it.

    Provided as a service (``platform.find(Tracing)``), so a plugin may start
    spans of its own with :attr:`tracer`.
    """

    def __init__(self, provider: TracerProvider, settings: TelemetrySettings) -> None:
        self.provider = provider
        self.settings = settings
        self.tracer = provider.get_tracer(SCOPE)
        #: True when the sampling configured starts no trace here (sampling 0): only callers' traces go on.
        self.starts_no_trace = starts_no_trace(settings, os.environ)

    def inject(self, carrier: dict[str, str]) -> None:
        """Write the current span's context into ``carrier`` (``OTEL_PROPAGATORS``' propagators: W3C by default)."""
        propagate.inject(carrier)

    def continued(
        self, carrier: Mapping[str, str], operation: str, attributes: dict[str, str | int], linked: bool
    ) -> AbstractContextManager[trace.Span]:
        """A current span named ``operation``: a child of the carried context, or a new trace linked to it."""
        carried = propagate.extract(carrier)
        if not linked:
            return self.tracer.start_as_current_span(operation, context=carried, kind=SpanKind.CONSUMER,
                                                     attributes=attributes)  # fmt: skip
        origin = trace.get_current_span(carried).get_span_context()
        links = [Link(origin)] if origin.is_valid else []
        return self.tracer.start_as_current_span(
            operation, context=Context(), kind=SpanKind.CONSUMER, attributes=attributes, links=links
        )

    def client_span(self, operation: str, attributes: dict[str, str | int]) -> AbstractContextManager[trace.Span]:
        """A client span named ``operation``, current while a backend call (a Redis command) runs."""
        return self.tracer.start_as_current_span(operation, kind=SpanKind.CLIENT, attributes=attributes)

    def event(self, name: str, attributes: dict[str, AttributeValue]) -> None:
        """Add an event to the current span; outside a recording span, to a short span of its own."""
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(name, attributes)
            return
        with self.tracer.start_as_current_span(name, context=Context(), attributes=attributes) as own:
            own.add_event(name, attributes)

    def switch_changed(self, switch: FallbackSwitch[Any], phase: Phase) -> None:
        """A :class:`~sheepfold.SwitchListener`: each change of a capability's phase is a span event."""
        attributes: dict[str, AttributeValue] = {
            "sheepfold.capability": switch.capability,
            "sheepfold.phase": phase.value,
            "sheepfold.serving": switch.active_name,
        }
        if phase is Phase.FALLBACK and switch.last_error:
            attributes["sheepfold.error"] = switch.last_error
        if phase is Phase.BACKEND and switch.last_recovery is not None:  # back only after a recovery
            attributes["sheepfold.recovery.outcome"] = switch.last_recovery.outcome
            attributes["sheepfold.recovery.seconds"] = switch.last_recovery.duration
        self.event("sheepfold.fallback.recovering" if phase is Phase.RECOVERING else "sheepfold.fallback.switch",
                   attributes)  # fmt: skip

    def rate_limit_refused(self, request: Any, policy: Any, reason: str, retry_after: int) -> None:
        """A ``sheepfold_ratelimit.RefusalListener``: each refusal is an event of the request's span."""
        self.event(
            "sheepfold.ratelimit.refused",
            {"sheepfold.ratelimit.policy": policy.name, "sheepfold.ratelimit.reason": reason,
             "sheepfold.ratelimit.retry_after": retry_after},
        )  # fmt: skip


#: ``OTEL_TRACES_SAMPLER`` values that never start a trace, and those whose ``OTEL_TRACES_SAMPLER_ARG`` is the ratio.
NEVER_STARTING_SAMPLERS = ("always_off", "parentbased_always_off")
RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")


def starts_no_trace(settings: TelemetrySettings, environ: Mapping[str, str]) -> bool:
    """True when ``telemetry.sample_ratio`` is 0, or, with it unset, ``OTEL_TRACES_SAMPLER`` starts no trace.

    The same variables the SDK reads for its sampler, so this holds for a
    provider ``opentelemetry-instrument`` installed too.
    """
    if settings.sample_ratio is not None:
        return settings.sample_ratio == 0
    sampler = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if sampler in NEVER_STARTING_SAMPLERS:
        return True
    if sampler in RATIO_SAMPLERS:
        try:
            return float(environ.get("OTEL_TRACES_SAMPLER_ARG", "1")) == 0
        except ValueError:
            return False
    return False
