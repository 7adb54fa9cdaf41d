"""The pool monitor: samples the pool on an interval, publishes gauges, and alerts once per change."""

from __future__ import annotations

import logging
from collections import deque
from enum import IntEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from sheepfold.periodic import PeriodicTask
from sheepfold.statistics import Statistics
from sheepfold.tasks import BackgroundTasks
from sheepfold_database.adapter import SqlDatabase
from sheepfold_database.pool import PoolFigures

logger = logging.getLogger("sheepfold.database.pool")


class PoolAlert(IntEnum):
    """How worrying the pool's use is; each level is logged once when the pool enters it."""

    OK = logging.INFO
    WARNING = logging.WARNING
    ERROR = logging.ERROR


#: What a pool monitor publishes as gauges, by figure: the keys of :meth:`PoolMonitor.report` they show.
_GAUGES = (
    ("size", "Connections the pool keeps open (database.pool_size)."),
    ("max_overflow", "Connections the pool may open beyond its size (database.max_overflow)."),
    ("checked_out", "Connections in use at the last sample."),
    ("overflow", "Connections open beyond the pool's size at the last sample."),
    ("waiting", "Callers waiting for a connection at the last sample."),
    ("use_percent", "Share of size + max_overflow in use at the last sample."),
    ("peak_use_percent", "Highest share of size + max_overflow in use during the last interval."),
    ("average_use_percent", "Time-weighted average share in use over database.monitor.window."),
    ("peak_checked_out", "Most connections in use at once since the app started."),
)


class PoolMetrics:
    """The gauges ``<prefix>_<figure>`` and the counter ``<prefix>_alerts_total{level}`` pool monitors set.

    The primary's monitor makes its own, unlabelled. The monitors of several
    pools share one made with a ``label`` name (the replicas':
    ``sheepfold_database_replica_pool_*{replica}``), which comes before
    ``level`` in the counter's labels.
    """

    def __init__(
        self, registry: CollectorRegistry, *, prefix: str = "sheepfold_database_pool", label: str | None = None
    ) -> None:
        labels = [label] if label else []
        # With --workers N each worker has its own pool: connections add up; a share of one pool does not,
        # the worst worker's is what matters.
        self.gauges = {
            name: Gauge(
                f"{prefix}_{name}",
                help_text,
                labels,
                registry=registry,
                multiprocess_mode="livemax" if "percent" in name or name.startswith("peak") else "livesum",
            )
            for name, help_text in _GAUGES
        }
        self.alerts = Counter(
            f"{prefix}_alerts", "Pool alerts raised, by level.", [*labels, "level"], registry=registry
        )


class PoolMonitor:
    """Watches one :class:`SqlDatabase`'s pool.

    Every ``interval`` seconds it takes a sample (the peaks since the previous
    one count, so a burst between samples is seen), sets the gauges
    ``sheepfold_database_pool_*``, and decides the alert: ERROR when callers
    waited for a connection or use reached ``error_percent``, WARNING at
    ``warning_percent``, else OK. An alert is logged when it changes (and
    when it clears), never again for every sample that stays at its level.
    With ``alerts`` False (an in-memory SQLite database, whose one connection
    is "100 % used" by any query) it publishes figures and raises nothing.

    The alert answers bursts; :attr:`sustained` answers pressure: the
    time-weighted average use over the last ``window`` seconds (from the
    pool's own integral of connections in use, not from samples) at or above
    ``error_percent``. ``/health`` says ``degraded`` only then. :meth:`report`
    is what both ``/health`` and the gauges show.

    Without ``metrics`` the gauges are the primary's own
    (``sheepfold_database_pool_*``); the monitors of several pools (the
    replicas) share one :class:`PoolMetrics` made with a label, each setting
    the series of its ``label``. ``name`` is how its log lines call the pool.
    """

    def __init__(
        self,
        database: SqlDatabase,
        registry: CollectorRegistry,
        *,
        interval: float,
        warning_percent: float,
        error_percent: float,
        window: float = 60.0,
        alerts: bool = True,
        metrics: PoolMetrics | None = None,
        label: str = "",
        name: str = "database pool",
    ) -> None:
        self.database = database
        self.interval = interval
        self.warning_percent = warning_percent
        self.error_percent = error_percent
        self.window = window
        self.alerts = alerts
        self.average_use_percent = 0.0
        self.last: PoolFigures | None = None
        # Samples of the periodic rounds, oldest first: the first one at or before the window's start is kept.
        self._history: deque[PoolFigures] = deque()
        self.alert = PoolAlert.OK
        self.alert_reason = ""
        self._waiting_alerted = False
        self._rounds = PeriodicTask(self._round, interval, name="sheepfold-database-pool-monitor", logger=logger)
        metrics = metrics if metrics is not None else PoolMetrics(registry)
        # A shared family (several pools, one label each) is set through this pool's own series.
        self._gauges = {name: gauge.labels(label) if label else gauge for name, gauge in metrics.gauges.items()}
        self._alerts = metrics.alerts
        self._alert_labels = (label,) if label else ()
        self.name = name

    def start(self, tasks: BackgroundTasks) -> None:
        """Sample once now and then every ``interval`` seconds, until :meth:`stop`."""
        self.database.figures(reset_peaks=True)  # start-up's own work (migrations) is not load
        self._round()
        self._rounds.start(tasks)

    async def stop(self) -> None:
        await self._rounds.stop()

    @property
    def sustained(self) -> bool:
        """True while the average use over the window is at or above ``error_percent`` (and alerts are on)."""
        return self.alerts and self.average_use_percent >= self.error_percent

    def sample(self) -> PoolFigures:
        """Take a sample: update the average, the gauges and the alert; return the figures.

        ``/health`` takes one too, so that what it shows is what the gauges show.
        """
        figures = self.database.figures(reset_peaks=True)
        oldest = self._history[0] if self._history else figures
        self.average_use_percent = figures.average_use_percent(since=oldest)
        self.last = figures
        for name, value in self.report().items():
            gauge = self._gauges.get(name)
            if gauge is not None:
                gauge.set(value)
        if self.alerts:
            self._judge(figures)
        return figures

    def report(self) -> dict[str, Any]:
        """The last sample's figures as ``/health`` and the ``sheepfold_database_pool_*`` gauges show them."""
        figures = self.last if self.last is not None else self.database.figures()
        return {
            "size": figures.size,
            "max_overflow": figures.max_overflow,
            "checked_out": figures.checked_out,
            "overflow": figures.overflow,
            "waiting": figures.waiting,
            "use_percent": round(figures.use_percent, 1),
            "peak_use_percent": round(figures.peak_use_percent, 1),
            "average_use_percent": round(self.average_use_percent, 1),
            "average_window": self.window,
            "peak_checked_out": figures.lifetime_peak_checked_out,
            "peak_waiting": figures.peak_waiting,
        }

    def statistics(self) -> Statistics:
        """The ``database`` section of the operator console: the pool now, without taking a sample.

        Gauges: ``size``, ``max_overflow``, ``capacity``, ``checked_out``,
        ``overflow``, ``waiting``, ``use_percent`` (now),
        ``average_use_percent`` (time-weighted over the monitor's window, up
        to now), ``peak_checked_out`` (since start), and the alert lines
        ``warning_percent`` and ``error_percent``. Counter ``busy_seconds``:
        connection-seconds checked out since start (its rate over capacity is
        the average use between two readings). Reads the pool's counters:
        no query, and the monitor's peaks are left to its own samples.
        """
        figures = self.database.figures()
        since = self._history[0] if self._history else figures
        return Statistics(
            "database",
            counters={"busy_seconds": figures.busy_seconds},
            gauges={
                "size": figures.size,
                "max_overflow": figures.max_overflow,
                "capacity": figures.capacity,
                "checked_out": figures.checked_out,
                "overflow": figures.overflow,
                "waiting": figures.waiting,
                "use_percent": round(figures.use_percent, 1),
                "average_use_percent": round(figures.average_use_percent(since=since), 1),
                "peak_checked_out": figures.lifetime_peak_checked_out,
                "warning_percent": self.warning_percent,
                "error_percent": self.error_percent,
            },
        )

    def _round(self) -> None:
        figures = self.sample()
        history = self._history
        history.append(figures)
        while len(history) > 1 and history[1].taken_at <= figures.taken_at - self.window:
            history.popleft()

    def _judge(self, figures: PoolFigures) -> None:
        use = figures.peak_use_percent
        waited = figures.peak_waiting > 0
        shape = f"{figures.peak_checked_out} of {figures.capacity} connections in use ({use:.0f} %)"
        if waited:
            level, reason = PoolAlert.ERROR, f"{figures.peak_waiting} caller(s) waited for a connection; {shape}"
        elif use >= self.error_percent:
            level, reason = PoolAlert.ERROR, f"{shape}, at or above {self.error_percent:g} %"
        elif use >= self.warning_percent:
            level, reason = PoolAlert.WARNING, f"{shape}, at or above {self.warning_percent:g} %"
        else:
            level, reason = PoolAlert.OK, shape
        # A new alert when the level changes, or when callers start waiting at an ERROR level already raised.
        if level == self.alert and waited <= self._waiting_alerted:
            self._waiting_alerted = waited
            return
        previous = self.alert
        self.alert, self.alert_reason, self._waiting_alerted = level, reason, waited
        if level is PoolAlert.OK:
            logger.info("%s back to normal use: %s (was %s)", self.name, reason, previous.name)
            return
        self._alerts.labels(*self._alert_labels, level.name.lower()).inc()
        logger.log(level.value, "%s %s: %s", self.name, level.name.lower(), reason)
