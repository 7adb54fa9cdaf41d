"""sheepfold-telemetry: OpenTelemetry tracing of a sheepfold platform, one trace from the request to the socket.

The request span comes from OpenTelemetry's ASGI middleware, its Redis and SQL
spans from the redis and SQLAlchemy instrumentations; jobs carry their trace
to the worker that runs them and realtime envelopes to the instances that
deliver them (``platform.propagation``). Fallback switches, recovery phases
and rate-limit refusals are span events. Nothing traces until settings or the
``OTEL_*`` variables name an exporter. Settings (``[telemetry]``) override
the standard ``OTEL_*`` variables; see ``docs/telemetry.md``.
"""

from __future__ import annotations

from sheepfold_telemetry.settings import TelemetrySettings
from sheepfold_telemetry.tracing import Tracing

__all__ = ["TelemetrySettings", "Tracing"]
