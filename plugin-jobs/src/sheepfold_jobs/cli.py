"""``sheepfold worker`` and ``sheepfold jobs ...``: run workers, read statistics, inspect and retry failed jobs."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click

from sheepfold.errors import SheepfoldError
from sheepfold.jobs import Jobs
from sheepfold.logs import configure_logging
from sheepfold.platform import Platform
from sheepfold_jobs.runner import worker_pool


async def _with_platform(work: Callable[[Platform], Awaitable[Any]], **overrides: Any) -> Any:
    from sheepfold.app import create_app

    app = create_app({"jobs": {"worker": {"embedded": False}, "metrics_interval": 0}, **overrides})
    await app.start()  # type: ignore[no-untyped-call]  # unannotated in BlackSheep
    try:
        return await work(app.platform)
    finally:
        await app.stop()  # type: ignore[no-untyped-call]  # unannotated in BlackSheep


def _run(work: Callable[[Platform], Awaitable[Any]]) -> Any:
    try:
        return asyncio.run(_with_platform(work))
    except SheepfoldError as error:
        click.echo(f"sheepfold: {error}", err=True)
        sys.exit(1)


@click.command()
@click.option("--queue", "queues", multiple=True, help="A queue to serve (repeat for more); default: every queue.")
def worker(queues: tuple[str, ...]) -> None:
    """Run job workers for the arq backend until SIGTERM or SIGINT (running jobs get jobs.worker.shutdown_grace)."""

    async def serve(platform: Platform) -> None:
        configure_logging(platform.settings.get("logging.format"))
        # arq logs each job's start and end at INFO: thousands of lines a second from a busy worker.
        logging.getLogger("arq").setLevel(logging.WARNING)
        pool = worker_pool(platform, list(queues) or None)
        if pool is None:
            raise click.ClickException("sheepfold worker needs jobs.backend = 'arq'")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        pool.start()
        await stop.wait()
        await pool.stop()

    _run(serve)


@click.group()
def jobs() -> None:
    """Job queue statistics and the failed-jobs list."""


@jobs.command()
@click.option("--queue", default=None, help="Only this queue (default: every queue).")
def stats(queue: str | None) -> None:
    """Print fleet-wide statistics per queue and priority as JSON (an unknown ``--queue`` exits with 1)."""
    click.echo(json.dumps(_run(lambda platform: _statistics(platform.require(Jobs), queue)), indent=2))


async def _statistics(port: Jobs, queue: str | None) -> dict[str, Any]:
    return (await port.statistics(queue=queue)).to_json()


@jobs.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def failed(limit: int) -> None:
    """List the most recent failed jobs: id, function, queue, tries, error."""

    async def listing(platform: Platform) -> list[Any]:
        return await platform.require(Jobs).failed_jobs(limit)

    for entry in _run(listing):
        click.echo(f"{entry.job_id}  {entry.function:<24} {entry.queue:<16} tries={entry.tries}  {entry.error}")


@jobs.command()
@click.argument("job_id")
def show(job_id: str) -> None:
    """Print one failed job (function, arguments, tries, error) as JSON."""

    async def one(platform: Platform) -> Any:
        return await platform.require(Jobs).failed_job(job_id)

    entry = _run(one)
    if entry is None:
        raise click.ClickException(f"no failed job {job_id}")
    click.echo(json.dumps(entry.to_json(), indent=2))


@jobs.command()
@click.argument("job_id")
def retry(job_id: str) -> None:
    """Enqueue a failed job again, same id and arguments, from try 1."""

    async def again(platform: Platform) -> bool:
        return await platform.require(Jobs).retry_failed(job_id)

    if not _run(again):
        raise click.ClickException(f"no failed job {job_id}")
    click.echo(f"{job_id} queued again")


@jobs.command()
@click.argument("job_id")
def discard(job_id: str) -> None:
    """Remove a failed job from the failed list without running it again."""

    async def remove(platform: Platform) -> bool:
        return await platform.require(Jobs).discard_failed(job_id)

    if not _run(remove):
        raise click.ClickException(f"no failed job {job_id}")
    click.echo(f"{job_id} discarded")
