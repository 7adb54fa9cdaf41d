"""From what a run logged to numbers: windows, identity checks, counters, the expected-metrics table.

Pure functions over the logs and the samples, so they can be tested alone.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from benchmarks.fleet.load import Proxied, Sent
from benchmarks.fleet.sampler import Sample


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values`` by the nearest rank; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass(frozen=True)
class Window:
    """The requests started in ``[start, start + length)`` seconds after the load began."""

    start: float
    requests: int
    non_2xx: dict[int, int]
    p50: float
    p95: float
    p99: float


def windows(sent: list[Sent], origin: float, length: float) -> list[Window]:
    by_window: dict[int, list[Sent]] = defaultdict(list)
    for request in sent:
        by_window[int((request.start - origin) // length)].append(request)
    result = []
    for index in sorted(by_window):
        requests = by_window[index]
        latencies = [request.latency for request in requests if request.status]
        codes = Counter(request.status for request in requests if not 200 <= request.status < 300)
        result.append(
            Window(
                index * length,
                len(requests),
                dict(sorted(codes.items())),
                percentile(latencies, 0.5),
                percentile(latencies, 0.95),
                percentile(latencies, 0.99),
            )
        )
    return result


@dataclass(frozen=True)
class IdentityCheck:
    """Signed-in requests answered 2xx, and those of them served as nobody or as someone else."""

    signed_in: int
    anonymous: int
    other_user: int
    anonymous_at: list[float]


def identity_check(proxied: Iterable[Proxied]) -> IdentityCheck:
    signed_in = anonymous = other = 0
    anonymous_at = []
    for request in proxied:
        if not request.user or not 200 <= request.status < 300:
            continue
        signed_in += 1
        if not request.served:
            anonymous += 1
            anonymous_at.append(request.end)
        elif request.served != request.user:
            other += 1
    return IdentityCheck(signed_in, anonymous, other, anonymous_at)


def _series(samples: list[Sample], name: str, **labels: str) -> dict[tuple[str, int | None], list[tuple[float, float]]]:
    """Per instance process (name, pid): ``(time, value)`` of every series named ``name`` with ``labels``, summed.

    A labelled counter is exported only once it is first counted, so a series
    missing from a process's earlier samples (that process answered then) was 0.
    """
    found: dict[tuple[str, int | None], list[tuple[float, float]]] = defaultdict(list)
    answered: dict[tuple[str, int | None], float] = {}
    for sample in samples:
        process = (sample.instance, sample.pid)
        if sample.metrics:
            answered.setdefault(process, sample.time)
        total = None
        for (metric, metric_labels), value in sample.metrics.items():
            if metric == name and all((key, wanted) in metric_labels for key, wanted in labels.items()):
                total = (total or 0.0) + value
        if total is not None:
            points = found[process]
            if not points and answered[process] < sample.time:
                points.append((answered[process], 0.0))
            points.append((sample.time, total))
    return found


def increase(samples: list[Sample], name: str, **labels: str) -> float:
    """How much a counter grew over the run, summed over instances; a restarted process starts from 0."""
    grown = 0.0
    for points in _series(samples, name, **labels).values():
        grown += points[-1][1] - points[0][1]
    return grown


def counter_by_label(samples: list[Sample], name: str, label: str) -> dict[str, float]:
    values = {dict(labels).get(label) for sample in samples for (metric, labels) in sample.metrics if metric == name}
    return {value: increase(samples, name, **{label: value}) for value in values if value is not None}


_SWITCHES = "sheepfold_fallback_switches_total"


def fallback_switches(samples: list[Sample]) -> float:
    """How many times any capability of any instance moved to its fallback during the run.

    ``sheepfold_fallback_switches_total`` counts moves by the adapter calls
    went ``to``; a move to any adapter but the capability's configured backend
    (what ``/health`` names ``configured``) is a move to its fallback.
    """
    backends = {
        capability: described["configured"]
        for sample in samples
        for capability, described in sample.health.get("capabilities", {}).items()
    }
    moves = {
        (dict(labels).get("capability"), dict(labels).get("to"))
        for sample in samples
        for (metric, labels) in sample.metrics
        if metric == _SWITCHES
    }
    return sum(
        increase(samples, _SWITCHES, capability=capability, to=to)
        for capability, to in moves
        if capability is not None and to is not None and to != backends.get(capability)
    )


def histogram_quantile(samples: list[Sample], name: str, q: float) -> float:
    """The ``q`` quantile of a histogram's observations over the run, interpolated inside its bucket."""
    bounds = counter_by_label(samples, name + "_bucket", "le")
    ordered = sorted((float(bound), count) for bound, count in bounds.items())
    if not ordered or ordered[-1][1] <= 0:
        return math.nan
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / max(count - lower_count, 1e-9)
        lower_bound, lower_count = bound, count
    return math.nan


def cpu_per_request(samples: list[Sample], requests: int) -> float:
    """Server CPU seconds per request: CPU time every instance process used during the load, over requests."""
    used: dict[tuple[str, int | None], list[float]] = defaultdict(list)
    for sample in samples:
        if sample.cpu_seconds is not None:
            used[(sample.instance, sample.pid)].append(sample.cpu_seconds)
    total = sum(points[-1] - points[0] for points in used.values())
    return total / requests if requests else math.nan


@dataclass(frozen=True)
class Expectation:
    """One row of the original platform's expected metrics."""

    goal: str
    measured: str
    met: bool | None  # None: the platform does not offer the number
    source: str


def _pool_row(samples: list[Sample]) -> Expectation:
    goal = "DB pool utilisation < 80 % (time-weighted)"
    averaged = sorted(
        {
            metric
            for sample in samples
            for (metric, _labels) in sample.metrics
            if metric.startswith("sheepfold_database_pool") and ("average" in metric or "weighted" in metric)
        }
    )
    if averaged:
        values = [points[-1][1] for points in _series(samples, averaged[0]).values()]
        worst = max(values)
        return Expectation(goal, f"{worst:.1f} % (worst instance)", worst < 80, f"`{averaged[0]}`")
    peaks = [
        value for points in _series(samples, "sheepfold_database_pool_use_percent").values() for _, value in points
    ]
    peak = max(peaks) if peaks else math.nan
    return Expectation(
        goal,
        f"missing: the platform offers no time-weighted use; highest per-interval peak {peak:.0f} %",
        None,
        "`sheepfold_database_pool_use_percent` (peak per monitor interval)",
    )


def expected_metrics(samples: list[Sample]) -> list[Expectation]:
    """The original platform's goals, each read from the platform's own ``/metrics`` over the run."""
    p95 = histogram_quantile(samples, "sheepfold_http_request_duration_seconds", 0.95)
    statuses = counter_by_label(samples, "sheepfold_http_requests_total", "status")
    total = sum(statuses.values())
    errors = sum(count for status, count in statuses.items() if status.startswith("5"))
    hits = increase(samples, "sheepfold_cache_hits_total", cache="response:fleet")
    misses = increase(samples, "sheepfold_cache_misses_total", cache="response:fleet")
    queue_times = [
        value
        for points in _series(samples, "sheepfold_jobs_queue_time_seconds", priority="high", quantile="0.95").values()
        for _, value in points
    ]
    queue_p95 = max(queue_times) if queue_times else math.nan
    rows = [
        Expectation("p95 < 200 ms", f"{p95 * 1000:.1f} ms", p95 < 0.2, "`sheepfold_http_request_duration_seconds`"),
        Expectation(
            "error rate < 0.1 %",
            f"{100 * errors / total:.3f} % ({errors:.0f} of {total:.0f})" if total else "no requests",
            bool(total) and errors / total < 0.001,
            "`sheepfold_http_requests_total{status=5xx}`",
        ),
        _pool_row(samples),
        Expectation(
            "cache hit rate > 70 % on cached routes",
            f"{100 * hits / (hits + misses):.1f} %" if hits + misses else "no cached requests",
            hits + misses > 0 and hits / (hits + misses) > 0.7,
            '`sheepfold_cache_hits_total{cache="response:fleet"}` / (hits + misses)',
        ),
        Expectation(
            "queue time < 5 s for priority jobs",
            f"p95 {queue_p95:.2f} s (highest sampled)" if queue_times else "no priority jobs sampled",
            bool(queue_times) and queue_p95 < 5,
            '`sheepfold_jobs_queue_time_seconds{priority="high",quantile="0.95"}`',
        ),
    ]
    return rows
