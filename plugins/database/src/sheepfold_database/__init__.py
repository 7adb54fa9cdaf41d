"""sheepfold-database: a watched async SQLAlchemy pool (asyncpg, aiosqlite), read replicas, cached query
results, and Alembic migrations."""

from sheepfold_database.adapter import SqlDatabase
from sheepfold_database.errors import DatabaseUnavailable
from sheepfold_database.migrations import AppliedRevision, Migrations, NotAtHeads, UnreachableRevision
from sheepfold_database.monitor import PoolAlert, PoolMetrics, PoolMonitor
from sheepfold_database.pool import PoolFigures, WatchedQueuePool
from sheepfold_database.query_cache import QueryCache, table_tag
from sheepfold_database.read_router import ReadRouter
from sheepfold_database.replica_health import ReplicaWatch
from sheepfold_database.replica_settings import ReplicaSettings, ReplicationSettings
from sheepfold_database.replicas import Replica, ReplicaSet
from sheepfold_database.routing import ReadOnlySession
from sheepfold_database.settings import MEMORY_URL, DatabaseSettings
from sheepfold_database.statements import StatementWatch, statement_shape

__all__ = [
    "MEMORY_URL",
    "AppliedRevision",
    "DatabaseSettings",
    "DatabaseUnavailable",
    "Migrations",
    "NotAtHeads",
    "PoolAlert",
    "PoolFigures",
    "PoolMetrics",
    "PoolMonitor",
    "QueryCache",
    "ReadOnlySession",
    "ReadRouter",
    "Replica",
    "ReplicaSet",
    "ReplicaSettings",
    "ReplicaWatch",
    "ReplicationSettings",
    "SqlDatabase",
    "StatementWatch",
    "UnreachableRevision",
    "WatchedQueuePool",
    "statement_shape",
    "table_tag",
]
