"""The connection budget: do all instances' pools fit in what PostgreSQL allows (``max_connections``)?

Every instance may open ``pool_size + max_overflow`` connections for requests
and up to :data:`PROBE_CONNECTIONS` for health checks (``SqlDatabase``'s probe
engine). PostgreSQL refuses connections beyond ``max_connections`` minus the
slots it keeps for superusers (``superuser_reserved_connections``) and, from
PostgreSQL 16, for roles with ``pg_use_reserved_connections``
(``reserved_connections``). A fleet whose pools add up to more than that works
until the load rises, then fails with "too many clients" (answered 503): the
check at start-up says so before it happens.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from sheepfold.platform import Platform
from sheepfold_database.adapter import SqlDatabase
from sheepfold_database.errors import describe_error

logger = logging.getLogger("sheepfold.database")

#: Connections of the health-check probe engine (one kept, two more for overlapping checks).
PROBE_CONNECTIONS = 3

_LIMITS = (
    "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int, "
    "coalesce(current_setting('reserved_connections', true), '0')::int"
)


@dataclass(frozen=True)
class ConnectionBudget:
    """What the fleet's pools may open against what the server accepts (``/health`` ``connections``)."""

    instances: int
    pool_size: int
    max_overflow: int
    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int = 0

    @property
    def per_instance(self) -> int:
        """The most connections one instance opens: its pool at full overflow, and its health probe."""
        return self.pool_size + self.max_overflow + PROBE_CONNECTIONS

    @property
    def needed(self) -> int:
        return self.instances * self.per_instance

    @property
    def available(self) -> int:
        """The connections the server gives to ordinary roles."""
        return self.max_connections - self.superuser_reserved_connections - self.reserved_connections

    @property
    def exceeded(self) -> bool:
        return self.needed > self.available

    def report(self) -> dict[str, object]:
        return {**asdict(self), "needed": self.needed, "available": self.available, "exceeded": self.exceeded}

    def describe(self) -> str:
        reserved = f"superuser_reserved_connections {self.superuser_reserved_connections}"
        if self.reserved_connections:
            reserved += f" - reserved_connections {self.reserved_connections}"
        return (
            f"{self.instances} instance(s) x (database.pool_size {self.pool_size} + database.max_overflow "
            f"{self.max_overflow} + {PROBE_CONNECTIONS} for health checks) = {self.needed} connections, "
            f"PostgreSQL allows {self.available} (max_connections {self.max_connections} - {reserved})"
        )


async def check_connection_budget(database: SqlDatabase, platform: Platform) -> ConnectionBudget | None:
    """Read the server's limits and the fleet's size; log a WARNING when the pools would not fit.

    Instances: the live instances of the fleet's heartbeat (this one
    included), or ``database.expected_instances`` when that is more (the
    first instance of a deploy sees only itself). None, after a DEBUG line,
    when the database is not PostgreSQL or does not answer (``/health``
    reports that).
    """
    settings = database.settings
    if not settings.is_postgresql:
        return None
    try:
        limits = await database.probe(_LIMITS)
    except Exception as error:
        logger.debug("the connection budget was not checked: %s", describe_error(error))
        return None
    assert limits is not None, "the query returns one row"
    instances = max(len(await platform.fleet.instances()), settings.expected_instances)
    budget = ConnectionBudget(instances, settings.pool_size, settings.max_overflow, *limits)
    if budget.exceeded:
        logger.warning(
            "database connections may run out under load: %s; lower database.pool_size or database.max_overflow, "
            "or raise PostgreSQL's max_connections (or put PgBouncer in front)",
            budget.describe(),
        )
    else:
        logger.info("database connection budget: %s", budget.describe())
    return budget
