"""Alembic migrations contributed by every plugin through ``sheepfold_migrations``, run on the app's engine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from sheepfold.errors import PluginError
from sheepfold.platform import Platform
from sheepfold_database.adapter import SqlDatabase
from sheepfold_database.engine import build_engine

ENVIRONMENT = Path(__file__).parent / "migration_env"


@dataclass(frozen=True)
class AppliedRevision:
    """A revision the database is at: its id, the branch (plugin) labels, and whether it is the newest."""

    revision: str
    branches: tuple[str, ...]
    is_head: bool

    def __str__(self) -> str:
        labels = f" ({', '.join(self.branches)})" if self.branches else ""
        return f"{self.revision}{labels}{' (head)' if self.is_head else ''}"


class Migrations:
    """The migration folders of every enabled plugin, as one Alembic script directory.

    Each plugin's folder is an Alembic version location; a plugin's first
    revision has ``down_revision = None`` and a ``branch_labels`` of its own
    name, so plugins migrate independently and ``heads`` means "every plugin
    at its newest". Every command runs in one transaction on a connection
    of its own, made with the ``[database]`` settings (``schema`` included)
    but without ``statement_timeout``: building an index may take long. An
    in-memory database is migrated on the app's own connection, the only
    one that sees it.

    Get one with :meth:`of` (``Migrations.of(platform)``: needs the
    ``sheepfold-database`` plugin enabled); operators run the same with ``sheepfold db upgrade``,
    ``sheepfold db downgrade REVISION`` and ``sheepfold db current``. A plugin
    offers its folder with the ``sheepfold_migrations`` hook::

        @hookimpl
        def sheepfold_migrations():
            return [Path(__file__).parent / "migrations"]

    Every command connects to the database (PostgreSQL, or SQLite); Alembic's
    and the driver's errors propagate as they are.
    """

    def __init__(self, database: SqlDatabase, locations: list[Path]) -> None:
        self.database = database
        self.locations = locations

    @classmethod
    def of(cls, platform: Platform) -> Migrations:
        """Collect ``sheepfold_migrations`` from every plugin; :class:`~sheepfold.PluginError` for a missing folder.

        ``LookupError`` when the platform has no :class:`SqlDatabase` (``sheepfold-database`` not enabled).
        """
        locations: list[Path] = []
        for plugin, result in platform.plugins.call_each("sheepfold_migrations", platform=platform):
            for folder in [result] if isinstance(result, (str, Path)) else result or ():
                path = Path(folder)
                if not path.is_dir():
                    raise PluginError(
                        f"migration folder {path} does not exist", plugin=plugin, hook="sheepfold_migrations"
                    )
                locations.append(path)
        return cls(platform.require(SqlDatabase), locations)

    def config(self, connection: Connection | None = None) -> Config:
        """Alembic's configuration: sheepfold's environment, the plugins' folders, and the connection."""
        config = Config()
        config.set_main_option("script_location", str(ENVIRONMENT))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", os.pathsep.join(str(path) for path in self.locations))
        config.attributes["connection"] = connection
        return config

    async def upgrade(self, revision: str = "heads") -> None:
        """Apply migrations up to ``revision`` (default: every plugin's newest)."""
        if self.locations:
            await self._run(lambda config: command.upgrade(config, revision))

    async def downgrade(self, revision: str) -> None:
        """Revert migrations down to ``revision`` (``example@base``, ``example@-1``, ``base``, an id)."""
        if self.locations:
            await self._run(lambda config: command.downgrade(config, revision))

    async def current(self) -> list[AppliedRevision]:
        """The revisions the database is at, one per plugin branch (empty before any upgrade)."""

        def read(connection: Connection) -> list[AppliedRevision]:
            applied = MigrationContext.configure(connection).get_current_heads()
            if not self.locations:
                return [AppliedRevision(revision, (), False) for revision in applied]
            script = ScriptDirectory.from_config(self.config())
            heads = set(script.get_heads())
            found = []
            for revision in applied:
                known = script.get_revision(revision)
                labels = tuple(sorted(known.branch_labels)) if known is not None else ()
                found.append(AppliedRevision(revision, labels, revision in heads))
            return found

        async with self._engine() as engine, engine.connect() as connection:
            return await connection.run_sync(read)

    async def _run(self, step: Callable[[Config], Any]) -> None:
        async with self._engine() as engine, engine.begin() as connection:
            await connection.run_sync(lambda sync_connection: step(self.config(sync_connection)))

    @contextlib.asynccontextmanager
    async def _engine(self) -> AsyncIterator[AsyncEngine]:
        settings = self.database.settings
        if settings.is_memory:
            yield self.database.engine
            return
        engine = build_engine(replace(settings, statement_timeout=0), pool_size=1, max_overflow=0)
        try:
            yield engine
        finally:
            await engine.dispose()
