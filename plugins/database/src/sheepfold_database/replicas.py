"""The app's read replicas: one watched pool each, which of them serve reads now, and a pick by weight."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
from collections.abc import Sequence

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships neither type hints nor stubs
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext

from sheepfold.tasks import BackgroundTasks
from sheepfold_database.adapter import SqlDatabase
from sheepfold_database.replica_settings import ReplicaSettings
from sheepfold_database.settings import DatabaseSettings

logger = logging.getLogger("sheepfold.database.replicas")
#: Why a replica is out of service before its first check.
NOT_CHECKED = "not checked yet"


class Replica:
    """One read replica: its :class:`SqlDatabase` (a pool sized as the primary's, a probe connection) and its state.

    ``in_service`` says whether read-only sessions may read from it;
    ``reason`` why not. ``lag`` is the replay lag in seconds at the last
    check (None when unknown: down, or not checked yet). Only
    :class:`ReplicaSet` changes ``in_service``.
    """

    def __init__(self, settings: ReplicaSettings, database: SqlDatabase) -> None:
        self.settings = settings
        self.name = settings.name
        self.weight = settings.weight
        self.database = database
        #: What read-only sessions bind to (SQLAlchemy's sessions bind to synchronous engines).
        self.engine: Engine = database.engine.sync_engine
        event.listen(self.engine, "handle_error", _driver_failure_is_a_disconnect)
        self.in_service = False
        self.reason = NOT_CHECKED
        self.lag: float | None = None
        self.in_recovery: bool | None = None


def _driver_failure_is_a_disconnect(context: ExceptionContext) -> None:
    # A server stopped "fast" sends each idle connection 57P01 and then closes it. A connection handed out
    # between the two (pre-ping sees no closed socket yet) fails with asyncpg's own InternalClientError
    # ("another operation is in progress"), which SQLAlchemy does not count as a disconnect: the connection
    # would stay in the session, and closing the session would fail on it. An error asyncpg raises itself,
    # not the server, leaves the connection unusable: invalidate it, so the statement runs again on the primary.
    driver_error = context.original_exception.__cause__
    if isinstance(driver_error, (asyncpg.InternalClientError, asyncpg.InterfaceError)):
        context.is_disconnect = True


class ReplicaSet:
    """The replicas, which of them serve reads now, and the only way one enters or leaves service.

    A replica starts out of service ("not checked yet"): reads go to the
    primary until its first check. :meth:`take_out` and :meth:`put_back` log
    each change once (WARNING out, INFO back), count removals in
    ``sheepfold_database_replica_removals_total{replica,reason}`` and set
    ``sheepfold_database_replica_in_service{replica}``. :meth:`pick` chooses
    among those in service by weight, without I/O.
    """

    def __init__(self, replicas: Sequence[Replica], registry: CollectorRegistry) -> None:
        self.replicas = tuple(replicas)
        self._serving: list[Replica] = []
        self._cumulative_weights: list[float] = []
        self._in_service = Gauge(
            "sheepfold_database_replica_in_service",
            "1 while the replica serves read-only sessions, 0 while it is out (down, lagging, not in recovery).",
            ["replica"],
            registry=registry,
        )
        self._removals = Counter(
            "sheepfold_database_replica_removals",
            "Replicas taken out of service, by reason (down, lagging, not_in_recovery).",
            ["replica", "reason"],
            registry=registry,
        )
        for replica in self.replicas:
            self._in_service.labels(replica.name).set(0)

    @classmethod
    def build(
        cls,
        primary: DatabaseSettings,
        replicas: Sequence[ReplicaSettings],
        *,
        tasks: BackgroundTasks,
        registry: CollectorRegistry,
    ) -> ReplicaSet:
        """Each replica's :class:`SqlDatabase`, with the primary's pool and connection settings. No I/O."""
        return cls(
            [
                Replica(replica, SqlDatabase(dataclasses.replace(primary, url=replica.url), tasks=tasks))
                for replica in replicas
            ],
            registry,
        )

    @property
    def any_in_service(self) -> bool:
        return bool(self._serving)

    def pick(self) -> Replica | None:
        """A replica in service, chosen at random in proportion to the weights; None when none is."""
        serving = self._serving
        if len(serving) <= 1:
            return serving[0] if serving else None
        return random.choices(serving, cum_weights=self._cumulative_weights)[0]

    def take_out(self, replica: Replica, reason: str, detail: str) -> None:
        """Stop sending reads to ``replica``, for ``reason`` (``down``, ``lagging``, ``not_in_recovery``).

        ``detail`` says it for people (``/health``, the log). Taking out a
        replica already out only updates its ``detail`` (its lag grows).
        """
        was_in_service, previous = replica.in_service, replica.reason
        replica.in_service, replica.reason = False, detail
        if was_in_service:
            self._removals.labels(replica.name, reason).inc()
            logger.warning("database replica %s taken out, reads go to the primary: %s", replica.name, detail)
            self._serving_changed()
        elif previous == NOT_CHECKED:
            logger.warning("database replica %s is not in service, reads go to the primary: %s", replica.name, detail)

    def put_back(self, replica: Replica) -> None:
        """Send reads to ``replica`` again (a check found it up, in recovery and within ``max_lag``)."""
        if replica.in_service:
            return
        previous = replica.reason
        replica.in_service, replica.reason = True, ""
        logger.info("database replica %s in service (was: %s)", replica.name, previous)
        self._serving_changed()

    def _serving_changed(self) -> None:
        self._serving = [replica for replica in self.replicas if replica.in_service]
        self._cumulative_weights = list(itertools.accumulate(replica.weight for replica in self._serving))
        for replica in self.replicas:
            self._in_service.labels(replica.name).set(1 if replica.in_service else 0)

    async def close(self) -> None:
        for replica in self.replicas:
            await replica.database.close()
