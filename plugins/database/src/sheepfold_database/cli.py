"""``sheepfold db upgrade|downgrade|current``: Alembic migrations of every enabled plugin."""

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
