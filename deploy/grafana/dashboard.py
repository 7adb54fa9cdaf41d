"""The sheepfold Grafana dashboard, built with grafana-foundation-sdk: ``python deploy/grafana/dashboard.py`` writes it.

The panels are the operator console's (docs/operations.md, "The operator
console"), read from Prometheus instead of the heartbeats: the fleet and each
capability's phase, the vital signs (requests/s, error rate, p95, Redis
latency, database pool use against the 80 % and 95 % lines, WebSockets, event
loop lag), jobs per queue with their queue time, rate-limit decisions, realtime
and the caches. Every expression reads only names that sheepfold exports
(tests/operations/test_exported_names.py), and the committed
``sheepfold-dashboard.json`` is this script's output (``make dashboard``
rewrites it; tests/operations/test_dashboard.py fails when they differ).
"""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)

OUTPUT = Path(__file__).with_name("sheepfold-dashboard.json")
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
#: Every selector of the dashboard is narrowed to the chosen job and instances.
SCOPE = 'job="$job", instance=~"$instance"'
#: The alert lines (deploy/prometheus/sheepfold-alerts.yml) drawn on the panels they concern.
POOL_LINES = ((80.0, "orange"), (95.0, "red"))


def query(expr: str, legend: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)


def lines(*levels: tuple[float, str]) -> dashboard_builders.ThresholdsConfig:
    """Threshold steps: green below the first level, then each level's colour."""
    steps = [Threshold(value=None, color="green"), *(Threshold(value=value, color=color) for value, color in levels)]
    return dashboard_builders.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def graph(
    title: str,
    description: str,
    queries: list[prometheus.Dataquery],
    *,
    unit: str = "short",
    width: int = 8,
    alert_lines: tuple[tuple[float, str], ...] = (),
) -> timeseries.Panel:
    """A time series panel; ``alert_lines`` are drawn as dashed lines at those values."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(queries)
        .unit(unit)
        .span(width)
        .height(8)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    if alert_lines:
        panel = panel.thresholds(lines(*alert_lines)).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
        )
    return panel


def figure(title: str, description: str, expr: str, *, red_from: float | None = 1) -> stat.Panel:
    """A single number, red from ``red_from`` (None: never red)."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query(expr, ""))
        .span(4)
        .height(4)
        .graph_mode(common.BigValueGraphMode.AREA)
        .thresholds(lines() if red_from is None else lines((red_from, "red")))
    )


def variable(name: str, label: str, expr: str, *, every: bool) -> dashboard_builders.QueryVariable:
    """A variable from ``label_values``; ``every``: several values may be picked, "All" by default."""
    built = (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(expr)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    if every:
        built = built.multi(True).include_all(True).all_value(".*")
    return built


def fleet_row(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Fleet and capabilities"))
        .with_panel(
            figure(
                "Instances scraped",
                "Targets of the job that answered the last scrape (Prometheus' own `up`).",
                f"sum(up{{{SCOPE}}})",
                red_from=None,
            )
        )
        .with_panel(
            figure(
                "Processes off their backend",
                "Worker processes serving a capability from its fallback (phase fallback or recovering).",
                f'sum(sheepfold_capability_phase{{{SCOPE}, phase!="backend"}}) or vector(0)',
            )
        )
        .with_panel(
            figure(
                "Failed recoveries (1 h)",
                "Recoveries that failed in the last hour: the backend answered but the replay did not complete.",
                f'sum(increase(sheepfold_recovery_duration_seconds_count{{{SCOPE}, outcome="failed"}}[1h]))'
                " or vector(0)",
            )
        )
        .with_panel(
            graph(
                "Capability phase",
                "Processes of each instance in each phase, per capability (the console's fleet table).",
                [
                    query(
                        f"sum by (instance, capability, phase) (sheepfold_capability_phase{{{SCOPE}}}) > 0",
                        "{{instance}} {{capability}}: {{phase}}",
                    )
                ],
                width=12,
            )
        )
        .with_panel(
            graph(
                "Fallback switches",
                "Moves between backend and fallback, per instance and capability, and recoveries by outcome.",
                [
                    query(
                        f"sum by (instance, capability) "
                        f"(increase(sheepfold_fallback_switches_total{{{SCOPE}}}[$__rate_interval]))",
                        "{{instance}} {{capability}} switches",
                    ),
                    query(
                        f"sum by (capability, outcome) "
                        f"(increase(sheepfold_recovery_duration_seconds_count{{{SCOPE}}}[$__rate_interval]))",
                        "{{capability}} recoveries {{outcome}}",
                    ),
                ],
                width=12,
            )
        )
    )


def vitals_row(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    rate = "[$__rate_interval]"
    return (
        board.with_row(dashboard_builders.Row("Vital signs"))
        .with_panel(
            graph(
                "Requests per second",
                "HTTP responses per second, per instance (every worker of an instance added up).",
                [query(f"sum by (instance) (rate(sheepfold_http_requests_total{{{SCOPE}}}{rate}))", "{{instance}}")],
                unit="reqps",
            )
        )
        .with_panel(
            graph(
                "Error rate",
                "Share of responses with a 5xx status; the dashed line is the alert's 0.1 %.",
                [
                    query(
                        f'sum by (instance) (rate(sheepfold_http_requests_total{{{SCOPE}, status=~"5.."}}{rate})) '
                        f"/ sum by (instance) (rate(sheepfold_http_requests_total{{{SCOPE}}}{rate}))",
                        "{{instance}}",
                    )
                ],
                unit="percentunit",
                alert_lines=((0.001, "red"),),
            )
        )
        .with_panel(
            graph(
                "Latency p95",
                "95th percentile of the time from request to response; the dashed line is the alert's 200 ms.",
                [
                    query(
                        "histogram_quantile(0.95, sum by (instance, le) "
                        f"(rate(sheepfold_http_request_duration_seconds_bucket{{{SCOPE}}}{rate})))",
                        "{{instance}}",
                    )
                ],
                unit="s",
                alert_lines=((0.2, "red"),),
            )
        )
        .with_panel(
            graph(
                "Redis latency",
                "The slowest worker's last PING round trip, while Redis answers; the dashed line is the alert's 50 ms.",
                [
                    query(
                        f"max by (instance) (sheepfold_redis_ping_seconds{{{SCOPE}}}) "
                        f"and on (instance) min by (instance) (sheepfold_redis_up{{{SCOPE}}}) == 1",
                        "{{instance}}",
                    )
                ],
                unit="s",
                alert_lines=((0.05, "orange"),),
            )
        )
        .with_panel(
            graph(
                "Database pool use",
                "The busiest worker's pool: at the last sample and time-weighted over database.monitor.window, "
                "against the 80 % and 95 % alert lines.",
                [
                    query(f"max by (instance) (sheepfold_database_pool_use_percent{{{SCOPE}}})", "{{instance}} now"),
                    query(
                        f"max by (instance) (sheepfold_database_pool_average_use_percent{{{SCOPE}}})",
                        "{{instance}} average",
                    ),
                ],
                unit="percent",
                alert_lines=POOL_LINES,
            )
            .min(0)
            .max(100)
        )
        .with_panel(
            graph(
                "Database connections",
                "Connections in use and callers waiting for one (any waiting caller is an alert).",
                [
                    query(f"sum by (instance) (sheepfold_database_pool_checked_out{{{SCOPE}}})", "{{instance}} in use"),
                    query(f"sum by (instance) (sheepfold_database_pool_waiting{{{SCOPE}}})", "{{instance}} waiting"),
                ],
            )
        )
        .with_panel(
            graph(
                "WebSockets",
                "WebSockets open, per instance.",
                [query(f"sum by (instance) (sheepfold_realtime_sockets{{{SCOPE}}})", "{{instance}}")],
            )
        )
        .with_panel(
            graph(
                "Event loop lag",
                "How late the slowest worker's event loop ran a timer (overload, not an outage).",
                [query(f"max by (instance) (sheepfold_event_loop_lag_seconds{{{SCOPE}}})", "{{instance}}")],
                unit="s",
            )
        )
        .with_panel(
            graph(
                "Cache hit ratio",
                "Look-ups answered from the cache, per cache.",
                [
                    query(
                        f"sum by (cache) (rate(sheepfold_cache_hits_total{{{SCOPE}}}{rate})) / "
                        f"(sum by (cache) (rate(sheepfold_cache_hits_total{{{SCOPE}}}{rate})) "
                        f"+ sum by (cache) (rate(sheepfold_cache_misses_total{{{SCOPE}}}{rate})))",
                        "{{cache}}",
                    )
                ],
                unit="percentunit",
            )
        )
    )


def jobs_row(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    # With arq every instance reports the fleet's jobs: the highest over instances (per queue, priority and
    # state), then added up per queue.
    fleet = 'max by (queue, priority, state) (sheepfold_jobs{{job="$job", state=~"{states}"}})'
    return (
        board.with_row(dashboard_builders.Row("Jobs"))
        .with_panel(
            graph(
                "Jobs per queue",
                "Jobs waiting (due, not started), delayed and active, per queue (every priority added up).",
                [
                    query(
                        f"sum by (queue, state) ({fleet.format(states='waiting|delayed|active')})",
                        "{{queue}} {{state}}",
                    )
                ],
            )
        )
        .with_panel(
            graph(
                "Jobs completed and failed per second",
                "The slope of the fleet's completed and failed counts (gauges read from Redis), per queue.",
                [
                    query(
                        f"deriv(sum by (queue, state) ({fleet.format(states='completed|failed')})[5m:])",
                        "{{queue}} {{state}}/s",
                    )
                ],
            )
        )
        .with_panel(
            graph(
                "Queue time",
                "Seconds from due to start of the recent jobs, p50 and p95 per queue and priority; "
                "the dashed line is the high-priority alert's 5 s.",
                [
                    query(
                        'max by (queue, priority, quantile) (sheepfold_jobs_queue_time_seconds{job="$job"})',
                        "{{queue}} {{priority}} p{{quantile}}",
                    )
                ],
                unit="s",
                alert_lines=((5.0, "red"),),
            )
        )
    )


def traffic_row(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    rate = "[$__rate_interval]"
    return (
        board.with_row(dashboard_builders.Row("Rate limiting and realtime"))
        .with_panel(
            graph(
                "Rate-limit decisions",
                "Rate-limited requests per second by policy and decision (allowed, limited, open, closed).",
                [
                    query(
                        f"sum by (policy, decision) (rate(sheepfold_ratelimit_decisions_total{{{SCOPE}}}{rate}))",
                        "{{policy}} {{decision}}",
                    ),
                    query(
                        f"sum by (policy, mode) (rate(sheepfold_ratelimit_outage_decisions_total{{{SCOPE}}}{rate}))",
                        "{{policy}} on outage: {{mode}}",
                    ),
                ],
                unit="reqps",
            )
        )
        .with_panel(
            graph(
                "Realtime publishes and deliveries",
                "Events published by outcome, queued to sockets, dropped for slow consumers, resyncs sent.",
                [
                    query(
                        f"sum by (outcome) (rate(sheepfold_realtime_publishes_total{{{SCOPE}}}{rate}))",
                        "published {{outcome}}",
                    ),
                    query(f"sum(rate(sheepfold_realtime_deliveries_total{{{SCOPE}}}{rate}))", "delivered"),
                    query(f"sum(rate(sheepfold_realtime_dropped_total{{{SCOPE}}}{rate}))", "dropped"),
                    query(
                        f"sum by (reason) (rate(sheepfold_realtime_resyncs_total{{{SCOPE}}}{rate}))",
                        "resync {{reason}}",
                    ),
                ],
                unit="ops",
            )
        )
        .with_panel(
            graph(
                "Realtime broker linked",
                "1 while every worker's subscriptions are active on the broker.",
                [query(f"min by (instance) (sheepfold_realtime_broker_linked{{{SCOPE}}})", "{{instance}}")],
            )
            .min(0)
            .max(1)
        )
    )


def build() -> dashboard_builders.Dashboard:
    board = (
        dashboard_builders.Dashboard("sheepfold")
        .uid("sheepfold")
        .description("The operator console's figures for a sheepfold fleet, from Prometheus (docs/operations.md).")
        .tags(["sheepfold"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .time("now-1h", "now")
        .refresh("30s")
        .with_variable(dashboard_builders.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_variable(variable("job", "Job", "label_values(sheepfold_http_requests_total, job)", every=False))
        .with_variable(
            variable(
                "instance", "Instance", 'label_values(sheepfold_http_requests_total{job="$job"}, instance)', every=True
            )
        )
    )
    for row in (fleet_row, vitals_row, jobs_row, traffic_row):
        board = row(board)
    return board


def dashboard_json() -> str:
    """The dashboard as Grafana imports it: indented JSON, keys sorted, ending with a newline."""
    model = build().build()
    for number, panel in enumerate(model.panels or [], start=1):  # ids unique within the dashboard
        panel.id_val = number
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(dashboard_json())
    print(f"wrote {OUTPUT}")
