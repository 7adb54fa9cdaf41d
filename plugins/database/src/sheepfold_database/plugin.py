"""The plugin's hooks: ``[database]`` settings, the engine and sessions as services, the pool monitor,
the N+1 watch, read replicas and read-only sessions, the query cache, ``/health``, and the ``sheepfold db`` commands."""

from __future__ import annotations

import click
from blacksheep import Application
from blacksheep.middlewares import MiddlewareCategory
from dynaconf import Validator
from rodi import Container
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sheepfold.database import Database
from sheepfold.health import ComponentHealth
from sheepfold.hookspecs import hookimpl
from sheepfold.platform import Platform
from sheepfold.statistics import Statistics
from sheepfold_database.adapter import SqlDatabase
from sheepfold_database.capacity import ConnectionBudget, check_connection_budget
from sheepfold_database.errors import install_error_handlers
from sheepfold_database.health import database_health
from sheepfold_database.middleware import RequestDatabaseContext
from sheepfold_database.migrations import Migrations
from sheepfold_database.monitor import PoolMonitor
from sheepfold_database.query_cache import QueryCache
from sheepfold_database.read_router import ReadRouter
from sheepfold_database.replica_health import ReplicaWatch
from sheepfold_database.replica_settings import ReplicationSettings, replica_validators
from sheepfold_database.replicas import ReplicaSet
from sheepfold_database.settings import DatabaseSettings, settings_validators
from sheepfold_database.statements import StatementWatch


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return [*settings_validators(), *replica_validators()]


@hookimpl
def sheepfold_configure_app(app: Application, platform: Platform) -> None:
    settings = DatabaseSettings.from_settings(platform.settings)
    database = SqlDatabase(settings, tasks=platform.tasks)
    platform.provide(Database, database)
    platform.provide(SqlDatabase, database)
    platform.provide(AsyncEngine, database.engine)
    platform.provide(async_sessionmaker, database.sessions)
    # One session per request, made only when a handler declares `session: AsyncSession`;
    # the middleware below closes it when the handler returns.
    services = app.services
    if not isinstance(services, Container):  # BlackSheep's default, and what create_app builds
        raise TypeError(f"sheepfold-database needs the app's services in a rodi Container, not {services!r}")
    services.add_scoped_by_factory(lambda: database.sessions(), AsyncSession)
    watch = None
    if settings.n_plus_one_threshold:
        watch = StatementWatch(
            database.engine, app.router, platform.metrics.registry, threshold=settings.n_plus_one_threshold
        )
        platform.provide(StatementWatch, watch)
    app.middlewares.append(RequestDatabaseContext(watch, database.sessions), MiddlewareCategory.BUSINESS)
    install_error_handlers(app, settings, platform.metrics.registry)
    QueryCache.install(platform, database.sessions)  # `queries: QueryCache`; commits invalidate what they wrote
    _configure_reads(app, platform, database, watch)


def _configure_reads(app: Application, platform: Platform, database: SqlDatabase, watch: StatementWatch | None) -> None:
    """Read-only sessions (``session: ReadOnlySession``), the replicas they may read from, and their watch."""
    replication = ReplicationSettings.from_settings(platform.settings)
    replicas = None
    if replication.replicas:
        registry = platform.metrics.registry
        replicas = ReplicaSet.build(database.settings, replication.replicas, tasks=platform.tasks, registry=registry)
        platform.provide(ReplicaSet, replicas)
        platform.provide(ReplicaWatch, ReplicaWatch(replicas, database.settings, replication, registry))
        if watch is not None:
            for replica in replicas.replicas:
                watch.listen(replica.database.engine)
    router = ReadRouter(database, replicas, replication.read_your_writes, platform)
    platform.provide(ReadRouter, router)
    if replicas is not None:  # without replicas every read is on the primary: no write to track
        app.middlewares.append(router.middleware(), MiddlewareCategory.BUSINESS)


@hookimpl
async def sheepfold_startup(app: Application, platform: Platform) -> None:
    database = platform.require(SqlDatabase)
    await database.start()
    budget = await check_connection_budget(database, platform)
    if budget is not None:
        platform.provide(ConnectionBudget, budget)
    if database.settings.is_memory:
        # An in-memory database starts empty with every process: nothing else can have migrated it.
        await Migrations.of(platform).upgrade()
    settings = database.settings
    monitor = PoolMonitor(
        database,
        platform.metrics.registry,
        interval=settings.monitor_interval,
        warning_percent=settings.warning_percent,
        error_percent=settings.error_percent,
        window=settings.monitor_window,
        alerts=not settings.is_memory,
    )
    platform.provide(PoolMonitor, monitor)
    monitor.start(platform.tasks)
    replica_watch = platform.find(ReplicaWatch)
    if replica_watch is not None:
        await replica_watch.start(platform.tasks)


@hookimpl
async def sheepfold_health(platform: Platform) -> ComponentHealth:
    health = await database_health(
        platform.require(SqlDatabase), platform.find(PoolMonitor), platform.find(ConnectionBudget)
    )
    replica_watch = platform.find(ReplicaWatch)
    return replica_watch.add_to(health) if replica_watch is not None else health


@hookimpl
def sheepfold_statistics(platform: Platform) -> Statistics | None:
    monitor = platform.find(PoolMonitor)
    return None if monitor is None else monitor.statistics()


@hookimpl
async def sheepfold_shutdown(app: Application, platform: Platform) -> None:
    monitor = platform.find(PoolMonitor)
    if monitor is not None:
        await monitor.stop()
    replica_watch = platform.find(ReplicaWatch)
    if replica_watch is not None:
        await replica_watch.stop()
    watch = platform.find(StatementWatch)
    if watch is not None:
        watch.close()
    router = platform.find(ReadRouter)
    if router is not None:
        router.close()
    replicas = platform.find(ReplicaSet)
    if replicas is not None:
        await replicas.close()
    await platform.require(SqlDatabase).close()


@hookimpl
def sheepfold_register_commands(cli: click.Group) -> None:
    from sheepfold_database.cli import db

    cli.add_command(db)
