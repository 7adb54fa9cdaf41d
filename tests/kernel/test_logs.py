"""JSON logs: one object a line with the instance, request, trace and span; ``logging.format`` is validated."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from sheepfold import SettingsError, create_app
from sheepfold.logs import JsonLogFormatter, logging_config, set_log_instance

FIELDS = ["time", "level", "logger", "message", "instance", "request_id", "trace_id", "span_id"]


def formatted(formatter: logging.Formatter, emit) -> list[dict]:
    """What ``emit(logger)`` logs through ``formatter``, each line parsed."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(formatter)
    logger = logging.getLogger("sheepfold.tests.logs")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    return [json.loads(line) for line in written.getvalue().splitlines()]


def test_a_record_is_one_line_of_json_with_every_field():
    set_log_instance("web-1")
    [record] = formatted(JsonLogFormatter(trace_ids=lambda: (None, None)), lambda log: log.warning("%s done", "job"))
    assert list(record) == FIELDS
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    assert record | {"time": None} == {
        "time": None,
        "level": "WARNING",
        "logger": "sheepfold.tests.logs",
        "message": "job done",
        "instance": "web-1",
        "request_id": None,  # outside a request
        "trace_id": None,
        "span_id": None,
    }


def test_an_exception_stays_in_its_one_line():
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            log.exception("failed")

    [record] = formatted(JsonLogFormatter(trace_ids=lambda: (None, None)), emit)
    assert record["message"] == "failed"
    assert "ValueError: bad\nvalue" in record["exception"] and "Traceback" in record["exception"]


def test_trace_and_span_ids_come_from_the_given_reader():
    ids = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    [record] = formatted(JsonLogFormatter(trace_ids=lambda: ids), lambda log: log.info("in a span"))
    assert (record["trace_id"], record["span_id"]) == ids


def test_trace_and_span_ids_are_the_current_opentelemetry_spans():
    trace = pytest.importorskip("opentelemetry.trace", reason="opentelemetry-api (a telemetry plugin's) is not here")
    context = trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )

    def emit(log: logging.Logger) -> None:
        log.info("outside")
        with trace.use_span(trace.NonRecordingSpan(context)):
            log.info("inside")

    outside, inside = formatted(JsonLogFormatter(), emit)
    assert (outside["trace_id"], outside["span_id"]) == (None, None)
    assert (inside["trace_id"], inside["span_id"]) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")


def test_the_json_configuration_sends_every_logger_through_one_json_handler_and_text_leaves_logging_be():
    config = logging_config("json", "debug")
    assert config is not None
    assert config["root"] == {"handlers": ["stderr"], "level": "DEBUG"}
    assert config["formatters"]["json"] == {"()": "sheepfold.logs.JsonLogFormatter"}
    # uvicorn's loggers have handlers of their own (text) unless these replace them.
    assert all(entry == {"handlers": [], "propagate": True} for entry in config["loggers"].values())
    assert {"uvicorn", "uvicorn.access", "uvicorn.error"} <= set(config["loggers"])
    assert logging_config("text", "info") is None


def test_an_unknown_log_format_stops_start_up_naming_the_key():
    with pytest.raises(SettingsError, match=r"logging\.format"):
        create_app({"logging": {"format": "xml"}}, load_entry_points=False)
