"""Alembic migrations contributed by every plugin through ``sheepfold_migrations``, run on the app's engine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.schema import SchemaItem

from sheepfold.errors import PluginError, SheepfoldError
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
    at its newest". Every command runs on a connection of its own, made with
    the ``[database]`` settings (``schema`` included) but without
    ``statement_timeout``: building an index may take long. Each revision is
    one transaction, which ``op.get_context().autocommit_block()`` may leave
    for ``CREATE INDEX CONCURRENTLY`` (the plugin-author guide shows one). An
    in-memory database is migrated on the app's own connection, the only
    one that sees it.

    Get one with :meth:`of` (``Migrations.of(platform)``: needs the
    ``sheepfold-database`` plugin enabled); operators run the same with ``sheepfold db upgrade``,
    ``sheepfold db downgrade REVISION``, ``sheepfold db current``, ``sheepfold db history``
    and ``sheepfold db check`` (models against migrations, for CI). A plugin
    offers its folder with the ``sheepfold_migrations`` hook::

        @hookimpl
        def sheepfold_migrations():
            return [Path(__file__).parent / "migrations"]

    and the ``MetaData`` of its models, which ``check`` compares, with
    ``sheepfold_model_metadata`` (``return [Base.metadata]``).

    Every command connects to the database (PostgreSQL, or SQLite); Alembic's
    and the driver's errors propagate as they are.
    """

    def __init__(self, database: SqlDatabase, locations: list[Path], models: list[MetaData] | None = None) -> None:
        self.database = database
        self.locations = locations
        self.models = models or []

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
        models: list[MetaData] = []
        for plugin, result in platform.plugins.call_each("sheepfold_model_metadata", platform=platform):
            for metadata in [result] if isinstance(result, MetaData) else result or ():
                if not isinstance(metadata, MetaData):
                    raise PluginError(
                        f"{metadata!r} is not a SQLAlchemy MetaData", plugin=plugin, hook="sheepfold_model_metadata"
                    )
                models.append(metadata)
        return cls(platform.require(SqlDatabase), locations, models)

    def config(self, connection: Connection | None = None) -> Config:
        """Alembic's configuration: sheepfold's environment, the plugins' folders, and the connection."""
        config = Config()
        config.set_main_option("script_location", str(ENVIRONMENT))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", os.pathsep.join(str(path) for path in self.locations))
        config.attributes["connection"] = connection
        return config

    async def upgrade(self, revision: str = "heads") -> None:
        """Apply migrations up to ``revision`` (default: every plugin's newest).

        Raises :class:`UnreachableRevision` when Alembic cannot find ``revision`` or get there.
        """
        if self.locations:
            await self._move("upgrade", revision, command.upgrade)

    async def downgrade(self, revision: str) -> None:
        """Revert migrations down to ``revision`` (``example@base``, ``example@-1``, ``base``, an id).

        Raises :class:`UnreachableRevision` when Alembic cannot find ``revision`` or get there.
        """
        if self.locations:
            await self._move("downgrade", revision, command.downgrade)

    async def _move(self, direction: str, revision: str, move: Callable[[Config, str], None]) -> None:
        try:
            await self._run(lambda config: move(config, revision))
        except (CommandError, RevisionError) as error:
            raise UnreachableRevision(direction, revision, str(error)) from error
        except AssertionError as error:  # Alembic asserts, rather than raises, on some malformed idents ('@@@')
            raise UnreachableRevision(direction, revision, "Alembic cannot read it as a revision") from error

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

    async def history(self, *, indicate_current: bool = False) -> list[str]:
        """Every plugin's revisions, newest first, one line each as ``alembic history`` prints them.

        With ``indicate_current``, the revisions the database is at are marked
        ``(current)`` (that reads the database; without it nothing connects).
        """
        if not self.locations:
            return []
        current = {applied.revision for applied in await self.current()} if indicate_current else set()
        script = ScriptDirectory.from_config(self.config())
        return [
            revision.cmd_format(verbose=False, include_branches=True, include_doc=True, include_parents=True)
            + (" (current)" if revision.revision in current else "")
            for revision in script.walk_revisions()
        ]

    async def check(self) -> list[str]:
        """What differs between the plugins' models (``sheepfold_model_metadata``) and the migrated database.

        One line per difference, as Alembic's autogenerate finds them (tables,
        columns, types, nullability, indexes, constraints; not server
        defaults); empty when they agree. Only tables some model declares are
        compared, so another plugin's tables are never reported. On SQLite,
        indexes are left out: its reflection drops ``DESC``, so every ordered
        index would differ (run the check on PostgreSQL in CI). The database
        must be at every plugin's head first (:class:`NotAtHeads` otherwise):
        an in-memory database is upgraded here, any other by ``sheepfold db
        upgrade``. Reads the database; changes nothing but an in-memory one.
        """
        if self.database.settings.is_memory:
            await self.upgrade()
        models = self.models

        def compare(connection: Connection) -> list[str]:
            include = _modelled if connection.dialect.name != "sqlite" else _modelled_without_indexes
            context = MigrationContext.configure(
                connection, opts={"include_object": include, "compare_type": True, "target_metadata": models}
            )
            if self.locations:
                heads = set(ScriptDirectory.from_config(self.config()).get_heads())
                missing = heads - set(context.get_current_heads())
                if missing:
                    raise NotAtHeads(sorted(missing))
            # Alembic compares a list of MetaData as it compares one (its target_metadata may be either),
            # though compare_metadata is annotated with one.
            differences = compare_metadata(context, cast("MetaData", models))
            return [_describe(difference) for difference in differences]

        async with self._engine() as engine, engine.connect() as connection:
            return await connection.run_sync(compare)

    async def _run(self, step: Callable[[Config], Any]) -> None:
        # Not engine.begin(): Alembic begins a transaction per revision, and an autocommit block can only
        # leave a transaction Alembic began. The commit ends what Alembic's reads began outside them.
        async with self._engine() as engine, engine.connect() as connection:
            await connection.run_sync(lambda sync_connection: step(self.config(sync_connection)))
            await connection.commit()

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


class UnreachableRevision(SheepfoldError):
    """``upgrade`` or ``downgrade`` was given a revision Alembic cannot find (``nosuch``) or reach (``example@+99``)."""

    def __init__(self, direction: str, revision: str, reason: str) -> None:
        super().__init__(f"cannot {direction} to {revision!r}: {reason}")
        self.revision = revision


class NotAtHeads(SheepfoldError):
    """The database is not at every plugin's newest revision: ``revisions`` are the heads it lacks."""

    def __init__(self, revisions: list[str]) -> None:
        super().__init__(f"the database is not at {', '.join(revisions)}: run `sheepfold db upgrade` first")
        self.revisions = revisions


def _modelled(item: SchemaItem, name: str | None, kind: str, reflected: bool, compare_to: SchemaItem | None) -> bool:
    """Leave out tables that only the database has: another plugin's, with no model offered."""
    return not (kind == "table" and reflected and compare_to is None)


def _modelled_without_indexes(
    item: SchemaItem, name: str | None, kind: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    """As :func:`_modelled`, and no index (SQLite's reflection cannot tell ``DESC`` columns)."""
    return kind != "index" and _modelled(item, name, kind, reflected, compare_to)


def _describe(difference: Any) -> str:
    """One line of an autogenerate difference: ``add_column notes.title``, ``modify_type notes.body: ...``."""
    if isinstance(difference, list):  # column modifications come as a list of tuples
        return "; ".join(_describe(part) for part in difference)
    operation, *details = difference
    if operation in {"add_table", "remove_table"}:
        return f"{operation} {details[0].name}"
    if operation in {"add_column", "remove_column"}:
        return f"{operation} {details[1]}.{details[2].name}"
    if operation in {"add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"}:
        item = details[0]
        table = getattr(item, "table", None)
        return f"{operation} {item.name} on {table.name if table is not None else '?'}"
    if operation.startswith("modify_"):
        _schema, table, column, _existing, old, new = details
        return f"{operation} {table}.{column}: {old!r} in the database, {new!r} in the models"
    return f"{operation} {details!r}"
