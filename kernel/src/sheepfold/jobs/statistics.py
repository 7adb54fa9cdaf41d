"""Queue-time percentiles over a bounded sample, shared by every job runner."""

from __future__ import annotations

from collections.abc import Sequence

#: How many recent queue times each (queue, priority) keeps for its percentiles.
QUEUE_TIME_SAMPLES = 1000


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` 0..1) of ``samples``; None when there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]
