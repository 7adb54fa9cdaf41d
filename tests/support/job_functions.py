"""The job-queue contract's job functions: the kit's (``sheepfold.testing.contracts.job_functions``)."""

from __future__ import annotations

from sheepfold.testing.contracts.job_functions import (
    DEFINITIONS,
    FIXED,
    GATES,
    ORDER,
    QUEUE_TIMES,
    QUICK_RETRY,
    RUNS,
    SERIAL_QUEUE,
    flaky,
    fresh_key,
    hold_until_opened,
    note_progress,
    record,
    record_order,
    record_queue_time,
    refuse,
    registry_for_tests,
    sleep_for,
    wait_for_gate,
)

__all__ = [
    "DEFINITIONS",
    "FIXED",
    "GATES",
    "ORDER",
    "QUEUE_TIMES",
    "QUICK_RETRY",
    "RUNS",
    "SERIAL_QUEUE",
    "flaky",
    "fresh_key",
    "hold_until_opened",
    "note_progress",
    "record",
    "record_order",
    "record_queue_time",
    "refuse",
    "registry_for_tests",
    "sleep_for",
    "wait_for_gate",
]
