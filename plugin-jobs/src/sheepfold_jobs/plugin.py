"""The plugin's hooks: the ``arq`` and ``spool`` job adapters, workers, admin routes, metrics and commands."""

from __future__ import annotations

import click
from blacksheep import Application, Router
from dynaconf import Validator

from sheepfold.errors import SettingsError
from sheepfold.health import ComponentHealth, Status
from sheepfold.hookspecs import hookimpl
from sheepfold.jobs import JobRegistry, Jobs, Priority
from sheepfold.platform import Platform
from sheepfold.types import RegisterProvider
from sheepfold_jobs import cli as commands
from sheepfold_jobs.adapter import ArqJobs
from sheepfold_jobs.admin import add_admin_routes
from sheepfold_jobs.metrics import JobMetrics
from sheepfold_jobs.outage_runner import OutageRunner
from sheepfold_jobs.runner import WorkerPool, worker_pool
from sheepfold_jobs.settings import settings_validators
from sheepfold_jobs.spool import SpooledJobs, drain_spool
from sheepfold_redis import RedisConnection


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return settings_validators()


def _arq_jobs(platform: Platform) -> ArqJobs:
    return ArqJobs(
        RedisConnection.of(platform),
        JobRegistry.of(platform),
        failed_max=platform.settings.get("jobs.failed_max"),
        propagation=platform.propagation,
    )


@hookimpl
def sheepfold_register_providers(register: RegisterProvider) -> None:
    register("jobs", "arq", _arq_jobs)
    register("jobs", "spool", _spooled_jobs)


def _spooled_jobs(platform: Platform) -> SpooledJobs:
    registry = JobRegistry.of(platform)
    bands = frozenset(Priority.parse(name) for name in platform.settings.get("jobs.spool.run_priorities") or ())
    runner = OutageRunner(registry, bands, platform) if bands else None
    return SpooledJobs(
        registry,
        max_entries=platform.settings.get("jobs.spool.max_entries"),
        runner=runner,
        propagation=platform.propagation,
    )


@hookimpl
def sheepfold_configure_app(app: Application, platform: Platform) -> None:
    known = JobRegistry.of(platform).queues()
    unknown = [queue for queue in platform.settings.get("jobs.worker.queues") or () if queue not in known]
    if unknown:
        raise SettingsError(
            [f"jobs.worker.queues: no job queue named {q!r}; known: {', '.join(known)}" for q in unknown]
        )
    switch = platform.capabilities.get("jobs")
    if switch is not None:
        switch.add_recovery_step("drain-spool", drain_spool)


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    add_admin_routes(router, platform)


@hookimpl
def sheepfold_register_commands(cli: click.Group) -> None:
    cli.add_command(commands.worker)
    cli.add_command(commands.jobs)


@hookimpl
def sheepfold_startup(app: Application, platform: Platform) -> None:
    interval = platform.settings.get("jobs.metrics_interval")
    fleet_wide = platform.settings.get("jobs.backend") == "arq"
    metrics = JobMetrics(platform.require(Jobs), platform.metrics.registry, interval=interval, fleet_wide=fleet_wide)
    platform.provide(JobMetrics, metrics)
    metrics.start(platform.tasks)
    if platform.settings.get("jobs.worker.embedded"):
        pool = worker_pool(platform)
        if pool is not None:
            platform.provide(WorkerPool, pool)
            pool.start()


@hookimpl
async def sheepfold_shutdown(app: Application, platform: Platform) -> None:
    pool = platform.find(WorkerPool)
    if pool is not None:
        await pool.stop()
    metrics = platform.find(JobMetrics)
    if metrics is not None:
        await metrics.stop()


@hookimpl
def sheepfold_health(platform: Platform) -> ComponentHealth | None:
    # Only with the arq backend: the memory runner is reported by the kernel's memory plugin.
    switch = platform.capabilities.get("jobs")
    if switch is None or switch.adapter_as(ArqJobs) is None:
        return None
    spool = switch.adapter_as(SpooledJobs, "fallback")
    spooled = len(spool.spooled) if spool is not None else 0
    pool = platform.find(WorkerPool)
    details = {"spooled": spooled, "workers": sorted(pool.workers) if pool is not None else []}
    return ComponentHealth("jobs", Status.DEGRADED if spooled else Status.OK, details=details)
