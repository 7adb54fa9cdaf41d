"""The pool monitor: samples the pool on an interval, publishes gauges, and alerts once per change."""

from __future__ import annotations

import logging
from enum import IntEnum

from prometheus_client import CollectorRegistry, Counter, Gauge

from sheepfold.periodic import PeriodicTask
from sheepfold.tasks import BackgroundTasks
from sheepfold_database.adapter import SqlDatabase
from sheepfold_database.pool import PoolFigures

logger = logging.getLogger("sheepfold.database.pool")


class PoolAlert(IntEnum):
    """How worrying the pool's use is; each level is logged once when the pool enters it."""

    OK = logging.INFO
    WARNING = logging.WARNING
    ERROR = logging.ERROR


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
    """

    def __init__(
        self,
        database: SqlDatabase,
        registry: CollectorRegistry,
        *,
        interval: float,
        warning_percent: float,
        error_percent: float,
        alerts: bool = True,
    ) -> None:
        self.database = database
        self.interval = interval
        self.warning_percent = warning_percent
        self.error_percent = error_percent
        self.alerts = alerts
        self.alert = PoolAlert.OK
        self.alert_reason = ""
        self._waiting_alerted = False
        self._rounds = PeriodicTask(self.sample, interval, name="sheepfold-database-pool-monitor", logger=logger)
        self._gauges = {
            name: Gauge(f"sheepfold_database_pool_{name}", help_text, registry=registry)
            for name, help_text in (
                ("size", "Connections the pool keeps open (database.pool_size)."),
                ("max_overflow", "Connections the pool may open beyond its size (database.max_overflow)."),
                ("checked_out", "Connections in use at the last sample."),
                ("overflow", "Connections open beyond the pool's size at the last sample."),
                ("waiting", "Callers waiting for a connection at the last sample."),
                ("use_percent", "Highest share of size + max_overflow in use during the last interval."),
                ("peak_checked_out", "Most connections in use at once since the app started."),
            )
        }
        self._alerts = Counter(
            "sheepfold_database_pool_alerts", "Pool alerts raised, by level.", ["level"], registry=registry
        )

    def start(self, tasks: BackgroundTasks) -> None:
        """Sample once now and then every ``interval`` seconds, until :meth:`stop`."""
        self.database.figures(reset_peaks=True)  # start-up's own work (migrations) is not load
        self.sample()
        self._rounds.start(tasks)

    async def stop(self) -> None:
        await self._rounds.stop()

    def sample(self) -> PoolFigures:
        """Take a sample: update the gauges and the alert; return the figures."""
        figures = self.database.figures(reset_peaks=True)
        gauges = self._gauges
        gauges["size"].set(figures.size)
        gauges["max_overflow"].set(figures.max_overflow)
        gauges["checked_out"].set(figures.checked_out)
        gauges["overflow"].set(figures.overflow)
        gauges["waiting"].set(figures.waiting)
        gauges["use_percent"].set(figures.peak_use_percent)
        gauges["peak_checked_out"].set(self.database.pool.lifetime_peak_checked_out)
        if self.alerts:
            self._judge(figures)
        return figures

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
            logger.info("database pool back to normal use: %s (was %s)", reason, previous.name)
            return
        self._alerts.labels(level.name.lower()).inc()
        logger.log(level.value, "database pool %s: %s", level.name.lower(), reason)
