"""``sheepfold db upgrade|downgrade|current|history|check``: Alembic migrations of every enabled plugin."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from sheepfold.errors import SheepfoldError
from sheepfold_database.migrations import Migrations

T = TypeVar("T")


def _run(step: Callable[[Migrations], Awaitable[T]]) -> T:
    """Build the app as ``serve`` would (settings, plugins), run ``step`` on its migrations, close the engine."""
    from sheepfold.app import create_app
    from sheepfold.database import Database

    async def run() -> T:
        try:
            app = create_app()
            migrations = Migrations.of(app.platform)
        except SheepfoldError as error:
            click.echo(f"sheepfold: {error}", err=True)
            sys.exit(1)
        try:
            return await step(migrations)
        except SheepfoldError as error:  # the database unreachable, a revision Alembic cannot reach, not at heads
            click.echo(f"sheepfold: {error}", err=True)
            sys.exit(1)
        finally:
            await app.platform.require(Database).close()

    return asyncio.run(run())


@click.group()
def db() -> None:
    """Database migrations (Alembic) of every enabled plugin, on [database] url."""


@db.command()
@click.argument("revision", default="heads")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: heads, every plugin's newest)."""
    _run(lambda migrations: migrations.upgrade(revision))
    click.echo(f"upgraded to {revision}")


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (e.g. example@-1, example@base, base)."""
    _run(lambda migrations: migrations.downgrade(revision))
    click.echo(f"downgraded to {revision}")


@db.command()
def current() -> None:
    """Print the revision of each plugin branch the database is at."""
    applied = _run(lambda migrations: migrations.current())
    for revision in applied:
        click.echo(str(revision))
    if not applied:
        click.echo("no migrations applied")


@db.command()
@click.option("--indicate-current", is_flag=True, help="Mark the revisions the database is at (connects to it).")
def history(indicate_current: bool) -> None:
    """Print every plugin's revisions, newest first."""
    lines = _run(lambda migrations: migrations.history(indicate_current=indicate_current))
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no migrations")


@db.command()
def check() -> None:
    """Fail (exit 1) naming each difference between the plugins' models and their migrations.

    Compares the database, migrated to every plugin's head, with the models
    plugins offer through ``sheepfold_model_metadata``: run it in CI after
    ``sheepfold db upgrade`` on a scratch database (an in-memory one is
    upgraded by the check itself).
    """

    differences = _run(lambda migrations: migrations.check())
    if differences:
        click.echo(f"models and migrations disagree ({len(differences)}):", err=True)
        for difference in differences:
            click.echo(f"  {difference}", err=True)
        sys.exit(1)
    click.echo("models and migrations agree")
