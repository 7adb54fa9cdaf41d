"""The telemetry settings (``[telemetry]``), validated at start-up; each one unset defers to its ``OTEL_*`` variable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from dynaconf import Validator

from sheepfold import url_parts

#: The exporter names known without an entry point: ``otlp`` is OTLP over HTTP/protobuf, ``none`` exports nothing.
BUILT_IN_EXPORTERS = ("otlp", "none")
#: The entry-point group OpenTelemetry's exporters register under (``console``, ``otlp_proto_http``, ...).
EXPORTER_GROUP = "opentelemetry_traces_exporter"


def exporter_names(value: str) -> list[str]:
    """The names of a comma-separated exporter list (``OTEL_TRACES_EXPORTER``'s form)."""
    return [name.strip() for name in value.split(",") if name.strip()]


def known_exporters(value: str) -> bool:
    """True when every name of ``value`` is ``otlp``, ``none`` or an installed exporter's entry point."""
    installed = {entry.name for entry in entry_points(group=EXPORTER_GROUP)}
    return all(name in BUILT_IN_EXPORTERS or name in installed for name in exporter_names(value))


def is_collector_url(value: object) -> bool:
    """Empty (the ``OTEL_*`` variables decide), or an http(s) URL with a host and a valid port."""
    if value == "":
        return True
    parts = url_parts(value)
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)


def validators() -> list[Validator]:
    return [
        Validator("telemetry.enabled", default=True, is_type_of=bool),
        Validator("telemetry.service_name", default="", is_type_of=str),
        Validator(
            "telemetry.exporter",
            default="",
            is_type_of=str,
            condition=known_exporters,
            messages={"condition": "{name}: unknown exporter in {value!r}: use otlp, none, or an installed one"},
        ),
        Validator(
            "telemetry.endpoint",
            default="",
            is_type_of=str,
            condition=is_collector_url,
            messages={"condition": "{name}: expected the collector's base URL, http(s)://host:port, or empty"},
        ),
        # No default: unset, OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG decide (the SDK's default: every trace).
        Validator("telemetry.sample_ratio", is_type_of=(int, float), gte=0, lte=1),
        Validator("telemetry.excluded_paths", default=[], is_type_of=list),
        Validator("telemetry.redis", default=True, is_type_of=bool),
        Validator("telemetry.database", default=True, is_type_of=bool),
        Validator("telemetry.background", default=False, is_type_of=bool),
    ]


#: The variables that name where traces go: with none of them (nor ``telemetry.exporter``/``endpoint``), nothing traces.
EXPORT_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


@dataclass(frozen=True)
class TelemetrySettings:
    """``telemetry.*``: see ``docs/telemetry.md``. Empty strings and None defer to the ``OTEL_*`` variables."""

    enabled: bool = True
    service_name: str = ""
    exporter: str = ""
    endpoint: str = ""
    sample_ratio: float | None = None
    excluded_paths: tuple[str, ...] = ()
    redis: bool = True
    database: bool = True
    background: bool = False

    def exports(self, environ: Mapping[str, str]) -> bool:
        """True when these settings or ``environ`` say where traces go (``exporter = "none"`` counts)."""
        return bool(self.exporter or self.endpoint or any(environ.get(name) for name in EXPORT_VARIABLES))

    @classmethod
    def from_settings(cls, settings: Any) -> TelemetrySettings:
        ratio = settings.get("telemetry.sample_ratio")
        return cls(
            enabled=bool(settings.get("telemetry.enabled")),
            service_name=str(settings.get("telemetry.service_name")),
            exporter=str(settings.get("telemetry.exporter")),
            endpoint=str(settings.get("telemetry.endpoint")),
            sample_ratio=None if ratio is None else float(ratio),
            excluded_paths=tuple(str(path) for path in settings.get("telemetry.excluded_paths")),
            redis=bool(settings.get("telemetry.redis")),
            database=bool(settings.get("telemetry.database")),
            background=bool(settings.get("telemetry.background")),
        )
