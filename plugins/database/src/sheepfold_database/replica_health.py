"""Watching the replicas: their replay lag checked on an interval, their pools monitored, both shown in ``/health``."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any, cast

from prometheus_client import CollectorRegistry, Gauge

from sheepfold.health import ComponentHealth, Status
from sheepfold.periodic import PeriodicTask
from sheepfold.tasks import BackgroundTasks
from sheepfold_database.errors import describe_error
from sheepfold_database.monitor import PoolAlert, PoolMetrics, PoolMonitor
from sheepfold_database.replica_settings import ReplicationSettings
from sheepfold_database.replicas import Replica, ReplicaSet
from sheepfold_database.settings import DatabaseSettings

logger = logging.getLogger("sheepfold.database.replicas")

#: Whether the server is a standby, and how far its replay is behind, in seconds. A replica that has
#: replayed all the WAL it received while its WAL receiver runs is 0 behind, however long ago the
#: primary's last transaction was (now() - pg_last_xact_replay_timestamp() alone grows while the
#: primary is idle). Otherwise the lag is the age of the last transaction replayed: paused replay,
#: replay slower than the primary writes, or no connection to the primary. NULL: nothing replayed yet.
LAG_QUERY = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()
                 AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver)
            THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
       END::float8
"""


class ReplicaWatch:
    """Checks every replica every ``check_interval`` seconds and monitors its pool as the primary's is.

    A check runs :data:`LAG_QUERY` on the replica's probe connection (never
    a pooled one), within ``health_timeout``. A replica that does not answer
    is taken out of service as ``down``; one not in recovery (promoted, or
    not a standby) as ``not_in_recovery``; one more than ``max_lag`` seconds
    behind (or with an unknown lag) as ``lagging``; any other is put back.
    The lag is the gauge ``sheepfold_database_replica_lag_seconds{replica}``
    (NaN when unknown). Each replica's pool has a :class:`PoolMonitor` with
    the primary's thresholds, publishing ``sheepfold_database_replica_pool_*{replica}``.
    """

    def __init__(
        self,
        replicas: ReplicaSet,
        settings: DatabaseSettings,
        replication: ReplicationSettings,
        registry: CollectorRegistry,
    ) -> None:
        self.replicas = replicas
        self.max_lag = replication.max_lag
        self._lag = Gauge(
            "sheepfold_database_replica_lag_seconds",
            "How far the replica's replay is behind the primary at the last check (NaN: unknown, down).",
            ["replica"],
            registry=registry,
        )
        pool_metrics = PoolMetrics(registry, prefix="sheepfold_database_replica_pool", label="replica")
        self.monitors = {
            replica.name: PoolMonitor(
                replica.database,
                registry,
                interval=settings.monitor_interval,
                warning_percent=settings.warning_percent,
                error_percent=settings.error_percent,
                window=settings.monitor_window,
                metrics=pool_metrics,
                label=replica.name,
                name=f"database replica {replica.name} pool",
            )
            for replica in replicas.replicas
        }
        self._rounds = PeriodicTask(
            self.check_all,
            replication.check_interval,
            name="sheepfold-database-replica-checks",
            logger=logger,
            failure_level=logging.WARNING,
        )

    async def start(self, tasks: BackgroundTasks) -> None:
        """Check every replica now (reads go to replicas from then on), then every interval; start the monitors."""
        await self.check_all()
        self._rounds.start(tasks)
        for monitor in self.monitors.values():
            monitor.start(tasks)

    async def stop(self) -> None:
        await self._rounds.stop()
        for monitor in self.monitors.values():
            await monitor.stop()

    async def check_all(self) -> None:
        """Check every replica at once; take out or put back each by what its check found."""
        await asyncio.gather(*(self.check(replica) for replica in self.replicas.replicas))

    async def check(self, replica: Replica) -> None:
        try:
            row = await replica.database.probe(LAG_QUERY)
        except Exception as error:
            replica.lag = replica.in_recovery = None
            self._lag.labels(replica.name).set(math.nan)
            timed_out = isinstance(error, TimeoutError) and not str(error)
            answer = f"no answer within {replica.database.settings.health_timeout:g} s" if timed_out else None
            self.replicas.take_out(replica, "down", f"down: {answer or describe_error(error)}")
            return
        assert row is not None, "LAG_QUERY returns one row"
        in_recovery, lag = bool(row[0]), cast("float | None", row[1])
        replica.in_recovery, replica.lag = in_recovery, lag
        self._lag.labels(replica.name).set(math.nan if lag is None else lag)
        if not in_recovery:
            self.replicas.take_out(replica, "not_in_recovery", "not in recovery: promoted, or not a standby")
        elif lag is None:
            self.replicas.take_out(replica, "lagging", "lag unknown: no transaction replayed since it started")
        elif lag > self.max_lag:
            self.replicas.take_out(replica, "lagging", f"{lag:.1f} s behind the primary (max_lag {self.max_lag:g} s)")
        else:
            self.replicas.put_back(replica)

    def report(self) -> dict[str, dict[str, Any]]:
        """Each replica as ``/health`` shows it: in service or why not, its lag, and a fresh sample of its pool."""
        shown: dict[str, dict[str, Any]] = {}
        for replica in self.replicas.replicas:
            monitor = self.monitors[replica.name]
            monitor.sample()
            entry: dict[str, Any] = {
                "url": replica.settings.safe_url,
                "weight": replica.weight,
                "in_service": replica.in_service,
                "lag_seconds": None if replica.lag is None else round(replica.lag, 3),
                "max_lag": self.max_lag,
                "pool": monitor.report(),
                "alert": monitor.alert.name.lower(),
            }
            if not replica.in_service:
                entry["reason"] = replica.reason
            if monitor.alert is not PoolAlert.OK:
                entry["alert_reason"] = monitor.alert_reason
            shown[replica.name] = entry
        return shown

    def add_to(self, health: ComponentHealth) -> ComponentHealth:
        """``health`` (the primary's ``database`` component) with the replicas in its details.

        An ``ok`` primary becomes ``degraded`` while a replica is out of
        service or its pool under sustained pressure: every request is still
        served, the primary carries the reads.
        """
        health.details["replicas"] = self.report()
        strained = any(
            not replica.in_service or self.monitors[replica.name].sustained for replica in self.replicas.replicas
        )
        if strained and health.status is Status.OK:
            health.status = Status.DEGRADED
        return health
