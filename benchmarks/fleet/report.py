"""The run's report: ``report.md`` and PNG plots in the run folder, chaos events shaded on each plot."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from benchmarks.fleet.analysis import (
    Expectation,
    IdentityCheck,
    Window,
    cpu_per_request,
    expected_metrics,
    fallback_switches,
    identity_check,
    percentile,
    windows,
)
from benchmarks.fleet.chaos import Happened
from benchmarks.fleet.load import Proxied, Sent
from benchmarks.fleet.profile import Profile
from benchmarks.fleet.sampler import Sample
from benchmarks.fleet.scenario import Scenario


@dataclass
class SideResult:
    """What one side's load left behind; ``origin`` is when the load started (epoch seconds)."""

    name: str
    origin: float
    sent: list[Sent]
    proxied: list[Proxied]
    samples: list[Sample]
    happened: list[Happened]
    h2load: dict[str, int]
    #: TCP connections the machine opened during the load: the load's own, plus each one nginx opened to an
    #: instance because it kept too few idle (a connection per request is CPU and latency on both ends).
    connections_opened: int
    profile: Profile | None = None

    @property
    def answered(self) -> list[Sent]:
        return [request for request in self.sent if request.status]

    @property
    def server_errors(self) -> int:
        """5xx answers plus requests that got no answer at all."""
        return sum(1 for request in self.sent if request.status >= 500) + self.unanswered

    @property
    def unanswered(self) -> int:
        started = self.h2load.get("started", len(self.sent))
        return started - len(self.answered)

    @property
    def identity(self) -> IdentityCheck:
        return identity_check(self.proxied)

    def latency(self, q: float) -> float:
        return percentile([request.latency for request in self.answered], q)

    @property
    def cpu_per_request(self) -> float:
        return cpu_per_request(self.samples, len(self.answered))


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def _cpu_ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def _shade(axes: Axes, result: SideResult) -> None:
    for event in result.happened:
        axes.axvspan(event.start - result.origin, max(event.end, event.start + 0.5) - result.origin, alpha=0.15)
        axes.annotate(event.kind, (event.start - result.origin, 1.0), xycoords=("data", "axes fraction"), fontsize=7)


def _plot(
    folder: Path, name: str, title: str, ylabel: str, result: SideResult, lines: dict[str, list[tuple[float, float]]]
) -> str:
    figure, axes = plt.subplots(figsize=(9, 3.2))
    for label, points in lines.items():
        if points:
            style = "--" if "bare" in label else "-"
            axes.plot([x for x, _ in points], [y for _, y in points], style, label=label, linewidth=1)
    _shade(axes, result)
    axes.set_title(title, fontsize=10)
    axes.set_xlabel("seconds into the load")
    axes.set_ylabel(ylabel)
    if any(lines.values()):
        axes.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    figure.savefig(folder / f"{name}.png", dpi=90)
    plt.close(figure)
    return f"![{title}]({name}.png)"


def _per_second(result: SideResult) -> list[Window]:
    return windows(result.sent, result.origin, 1.0)


def _sampled(result: SideResult, value: object) -> list[tuple[float, float]]:
    """Sum over instances of ``value(sample)`` per sampling round (rounded to the second)."""
    totals: dict[int, float] = defaultdict(float)
    for sample in result.samples:
        found = value(sample)  # type: ignore[operator]
        if found is not None:
            totals[round(sample.time - result.origin)] += found
    return sorted((float(second), total) for second, total in totals.items())


def plots(folder: Path, result: SideResult, bare: SideResult | None) -> list[str]:
    seconds = _per_second(result)
    latency = {
        f"{label} {result.name}": [(w.start, getattr(w, label) * 1000) for w in seconds]
        for label in ("p50", "p95", "p99")
    }
    if bare is not None:
        latency[f"p95 {bare.name}"] = [(w.start, w.p95 * 1000) for w in _per_second(bare)]
    errors: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for window in seconds:
        for code in {code for w in seconds for code in w.non_2xx}:
            errors[f"{code or 'no answer'}"].append((window.start, window.non_2xx.get(code, 0)))
    anonymous: dict[int, int] = defaultdict(int)
    for moment in result.identity.anonymous_at:
        anonymous[int(moment - result.origin)] += 1
    errors["signed-in served anonymous"] = (
        [(float(second), float(anonymous.get(second, 0))) for second in range(int(seconds[-1].start) + 1)]
        if seconds
        else []
    )
    capabilities = sorted({name for sample in result.samples for name in sample.health.get("capabilities", {})})
    on_fallback = {
        capability: _sampled(
            result,
            lambda sample, capability=capability: (
                None
                if capability not in sample.health.get("capabilities", {})
                else float(
                    sample.health["capabilities"][capability]["active"]
                    != sample.health["capabilities"][capability]["configured"]
                )
            ),
        )
        for capability in capabilities
    }

    def metric(name: str, **labels: str) -> object:
        def read(sample: Sample) -> float | None:
            values = [
                v for (m, ls), v in sample.metrics.items() if m == name and all((k, x) in ls for k, x in labels.items())
            ]
            return sum(values) if values else None

        return read

    pool = {
        "checked out (sum of instances)": _sampled(result, metric("sheepfold_database_pool_checked_out")),
        "waiting (sum of instances)": _sampled(result, metric("sheepfold_database_pool_waiting")),
    }
    queue = {
        "high priority p95": [
            (t, v)
            for t, v in _sampled(result, metric("sheepfold_jobs_queue_time_seconds", priority="high", quantile="0.95"))
        ],
    }
    return [
        _plot(folder, "latency", "Latency percentiles per second (client side, h2load)", "ms", result, latency),
        _plot(
            folder,
            "errors",
            "Non-2xx answers and signed-in requests served anonymous, per second",
            "requests",
            result,
            dict(errors),
        ),
        _plot(
            folder, "adapters", "Instances serving each capability from its fallback", "instances", result, on_fallback
        ),
        _plot(folder, "pool", "Database pool use", "connections", result, pool),
        _plot(
            folder,
            "queue_time",
            "Priority jobs' queue time (fleet-wide p95, summed over the instances reporting)",
            "s",
            result,
            queue,
        ),
    ]


def _window_table(result: SideResult, length: float) -> list[str]:
    lines = [
        "| window (s) | requests | non-2xx by code | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for window in windows(result.sent, result.origin, length):
        codes = ", ".join(f"{code or 'no answer'}: {count}" for code, count in window.non_2xx.items()) or "n/a"
        span = f"{window.start:.0f}-{window.start + length:.0f}"
        latencies = f"{_ms(window.p50)} | {_ms(window.p95)} | {_ms(window.p99)}"
        lines.append(f"| {span} | {window.requests} | {codes} | {latencies} |")
    return lines


def _expectations(rows: list[Expectation]) -> list[str]:
    lines = ["| goal | measured | met | read from |", "| --- | --- | --- | --- |"]
    for row in rows:
        met = "missing" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.goal} | {row.measured} | {met} | {row.source} |")
    return lines


def _cpu_breakdown(sides: list[SideResult]) -> list[str]:
    """Where each profiled side's server CPU went, by component: share of the samples and ms per request."""
    profiled = [(side, side.profile) for side in sides if side.profile is not None and side.profile.samples]
    if not profiled:
        return []
    first = profiled[0][1]
    components = sorted({name for _, profile in profiled for name in profile.by_component}, key=first.share)[::-1]
    lines = [
        "## Where the server CPU goes",
        "",
        "py-spy sampled the first instance of each side 200 times a second during the load (CPU time only); each "
        "sample counts for the component of its innermost Python frame, C code for the Python that called it. "
        "ms per request: the share times the side's server CPU per request. "
        + "; ".join(f"{side.name}: {profile.samples} samples" for side, profile in profiled)
        + ".",
        "",
        "| component | " + " | ".join(f"{side.name} share | {side.name} ms/request" for side, _ in profiled) + " |",
        "| --- |" + " --- | --- |" * len(profiled),
    ]
    for name in components:
        cells = [
            f"{profile.share(name):.1%} | {profile.share(name) * side.cpu_per_request * 1000:.3f}"
            for side, profile in profiled
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def comparison(sheepfold: SideResult, bare: SideResult) -> list[tuple[str, str, str, str]]:
    """Rows of (measure, sheepfold, bare, bare ÷ sheepfold)."""

    def ratio(ours: float, theirs: float) -> str:
        return "n/a" if not ours or math.isnan(ours) or math.isnan(theirs) else f"{theirs / ours:.2f}"

    rows = []
    for label, q in (("p50 ms", 0.5), ("p95 ms", 0.95), ("p99 ms", 0.99)):
        ours, theirs = sheepfold.latency(q), bare.latency(q)
        rows.append((label, _ms(ours), _ms(theirs), ratio(ours, theirs)))
    ours, theirs = sheepfold.cpu_per_request, bare.cpu_per_request
    rows.append(("server CPU per request, ms", _cpu_ms(ours), _cpu_ms(theirs), ratio(ours, theirs)))
    rows.append(("TCP connections opened", str(sheepfold.connections_opened), str(bare.connections_opened), "n/a"))
    rows.append(("5xx or no answer", str(sheepfold.server_errors), str(bare.server_errors), "n/a"))
    rows.append(("signed-in served anonymous", str(sheepfold.identity.anonymous), str(bare.identity.anonymous), "n/a"))
    return rows


def write_report(
    folder: Path, scenario: Scenario, result: SideResult, bare: SideResult | None, failures: list[str]
) -> Path:
    load = scenario.load
    identity = result.identity
    answered = len(result.answered)
    lines = [
        f"# Fleet run: {scenario.name}",
        "",
        f"{scenario.instances} `sheepfold serve` instances behind nginx; {load.connections} connections at "
        f"{load.rate} requests/s each (opened over {load.ramp} s, {load.duration} s each), {load.users} signed-in "
        f"users ({load.signed_in:.0%} of requests); routes: "
        + ", ".join(f"`{route.path}` ({route.weight})" for route in scenario.routes)
        + ".",
        "",
        "Chaos: "
        + (
            ", ".join(
                f"{e.kind} at {e.start - result.origin:.1f} s for {e.end - e.start:.1f} s" for e in result.happened
            )
            or "none"
        )
        + ".",
        "",
        "## Verdict",
        "",
        *(["All checks passed."] if not failures else [f"- **FAILED**: {failure}" for failure in failures]),
        "",
        f"Requests answered: {answered} (h2load: {result.h2load}); 5xx or no answer: {result.server_errors}; "
        f"signed-in requests answered 2xx: {identity.signed_in}, served anonymous: {identity.anonymous}, "
        f"served as another user: {identity.other_user}; capabilities moved to their fallback: "
        f"{fallback_switches(result.samples):.0f} times; TCP connections opened during the load: "
        f"{result.connections_opened} ({load.connections} of them the load generator's).",
        "",
        "## The original platform's expected metrics (from the platform's own /metrics)",
        "",
        *_expectations(expected_metrics(result.samples)),
        "",
        f"Client side for comparison (h2load, all routes): p95 {_ms(result.latency(0.95))} ms.",
        "",
    ]
    if bare is not None:
        lines += [
            "## sheepfold against bare BlackSheep doing the same Redis work by hand",
            "",
            "| measure | sheepfold | bare | bare ÷ sheepfold |",
            "| --- | --- | --- | --- |",
            *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in comparison(result, bare)),
            "",
        ]
    lines += _cpu_breakdown([result, *([bare] if bare is not None else [])])
    lines += [
        "## Over time",
        "",
        *plots(folder, result, bare),
        "",
        "## Per window (sheepfold)",
        "",
        *_window_table(result, scenario.window),
        "",
    ]
    if bare is not None:
        lines += ["## Per window (bare)", "", *_window_table(bare, scenario.window), ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines))
    return path
