"""Logs as one JSON object a line, joined to requests and traces; the logging set-up of sheepfold's commands.

``logging.format = "json"`` makes ``sheepfold serve`` (and plugins' commands
that call :func:`configure_logging`, such as ``sheepfold worker``) write
every record of every logger (the kernel's, the plugins', uvicorn's) to
stderr as one JSON object: ``time``, ``level``, ``logger``, ``message``,
``instance``, ``request_id``, ``trace_id``, ``span_id`` (null when there is
none), plus ``exception`` and ``stack`` when the record has them.

Trace and span ids come from the current OpenTelemetry span when
``opentelemetry-api`` is installed (a telemetry plugin brings it); the
kernel does not depend on it.
"""

from __future__ import annotations

import importlib
import json
import logging
import logging.config
import time
from collections.abc import Callable
from typing import Any

from sheepfold.http.request_id import current_request_id

#: The values of ``logging.format``.
FORMATS = ("text", "json")
#: The loggers of uvicorn, which keep handlers of their own unless told to hand records to the root logger.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

TraceIds = Callable[[], tuple[str | None, str | None]]
_instance = ""


def set_log_instance(instance_id: str) -> None:
    """Name the instance that JSON log records of this process carry (``create_app`` names its own).

    Logging is one per process: where several apps are built in one process
    (tests), the last one built names it.
    """
    global _instance
    _instance = instance_id


def _opentelemetry_trace_ids() -> TraceIds | None:
    """A reader of the current span's ids when ``opentelemetry-api`` is importable, else None."""
    try:
        trace = importlib.import_module("opentelemetry.trace")
    except ImportError:
        return None

    def trace_ids() -> tuple[str | None, str | None]:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None, None
        return f"{context.trace_id:032x}", f"{context.span_id:016x}"

    return trace_ids


class JsonLogFormatter(logging.Formatter):
    """Formats a record as one line of JSON (the fields are in this module's docstring).

    ``trace_ids`` reads the current trace and span ids; by default the
    current OpenTelemetry span's, when ``opentelemetry-api`` is installed.
    Usable in any ``logging`` configuration, such as uvicorn's
    ``--log-config``: ``{"()": "sheepfold.logs.JsonLogFormatter"}``.
    """

    def __init__(self, trace_ids: TraceIds | None = None) -> None:
        super().__init__()
        self.trace_ids = trace_ids if trace_ids is not None else _opentelemetry_trace_ids()

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = self.trace_ids() if self.trace_ids is not None else (None, None)
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, Any] = {
            "time": f"{seconds}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "instance": _instance,
            "request_id": current_request_id(),
            "trace_id": trace_id,
            "span_id": span_id,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def logging_config(log_format: str, level: str) -> dict[str, Any] | None:
    """The ``logging.config.dictConfig`` of a sheepfold command for ``log_format``, or None to leave logging be.

    ``"json"``: one stderr handler with :class:`JsonLogFormatter` on the root
    logger at ``level`` (``"info"``), and uvicorn's loggers handing their
    records to it, so every line is JSON. ``"text"``: None (uvicorn's own
    format, as before).
    """
    if log_format != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLogFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS},
    }


#: The lines of a command's ``"text"`` logging (not ``serve``'s, which are uvicorn's).
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(log_format: str, level: str = "info") -> None:
    """Set up this process's logging for ``log_format`` (``logging.format``) once, at a command's start.

    For a plugin's long-running command (``sheepfold worker``): ``"json"`` as
    :func:`logging_config` says (what ``sheepfold serve`` hands to uvicorn),
    ``"text"`` one stderr handler with :data:`TEXT_FORMAT` on the root logger,
    at ``level`` either way.
    """
    config = logging_config(log_format, level)
    if config is None:
        logging.basicConfig(level=level.upper(), format=TEXT_FORMAT)
    else:
        logging.config.dictConfig(config)
