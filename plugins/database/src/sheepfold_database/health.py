"""The ``database`` component of ``/health``: can a query run, and how full is the pool."""

from __future__ import annotations

import time

from sheepfold.health import ComponentHealth, Status
from sheepfold_database.adapter import SqlDatabase
from sheepfold_database.capacity import ConnectionBudget
from sheepfold_database.errors import describe_error
from sheepfold_database.monitor import PoolAlert, PoolMonitor


async def database_health(
    database: SqlDatabase, monitor: PoolMonitor | None, budget: ConnectionBudget | None = None
) -> ComponentHealth:
    """The ``database`` component, with the pool's figures in its details.

    ``down`` when ``SELECT 1`` fails or takes over ``health_timeout`` (the
    platform is down when ``required``), ``degraded`` while the pool is under
    sustained pressure (:attr:`PoolMonitor.sustained`: the average use over
    the monitor's window), else ``ok``. The pool's figures are a sample the
    monitor takes now, so the gauges show the same. ``budget``, the
    connection budget checked at start-up, is shown as ``connections``.
    """
    settings = database.settings
    details: dict[str, object] = {"url": settings.safe_url}
    if monitor is not None:
        monitor.sample()
        details["pool"] = monitor.report()
        details["alert"] = monitor.alert.name.lower()
        if monitor.alert is not PoolAlert.OK:
            details["alert_reason"] = monitor.alert_reason
    if budget is not None:
        details["connections"] = budget.report()
    started = time.perf_counter()
    try:
        await database.ping()
    except Exception as error:
        timed_out = isinstance(error, TimeoutError) and not str(error)
        details["error"] = (
            f"no answer to SELECT 1 within {settings.health_timeout:g} s" if timed_out else describe_error(error)
        )
        return ComponentHealth("database", Status.DOWN, required=settings.required, details=details)
    details["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    degraded = monitor is not None and monitor.sustained
    return ComponentHealth(
        "database", Status.DEGRADED if degraded else Status.OK, required=settings.required, details=details
    )
