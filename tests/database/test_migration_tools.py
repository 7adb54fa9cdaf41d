"""`sheepfold db history` and `sheepfold db check` (models against migrations), and the example's index built
with CREATE INDEX CONCURRENTLY outside a transaction, on the real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Integer, MetaData, String, Text, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sheepfold import create_app, hookimpl
from sheepfold_database import Migrations, NotAtHeads
from sheepfold_database import plugin as database_plugin
from sheepfold_example import plugin as example_plugin
from sheepfold_example.guestbook import recent_entries
from tests.database.test_migrations import REVISION, run_sheepfold
from tests.support.admin import ADMIN_ENV

OTHER_REVISION = (
    REVISION.replace('"notes_0001"', '"other_0001"')
    .replace('("notes",)', '("other",)')
    .replace('"notes"', '"other_table"')
)
NEWEST = "to_regclass('ix_example_guestbook_newest')"


class Agrees(DeclarativeBase):
    pass


class Note(Agrees):
    """What notes_0001 creates, exactly."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str | None] = mapped_column(Text)


class Disagrees(DeclarativeBase):
    pass


class ChangedNote(Disagrees):
    """A model changed without a migration: a new column and a narrower body."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str | None] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(80))


class ModelPlugin:
    """A plugin with a migration folder and (maybe) the MetaData of its models."""

    def __init__(self, folder: Path, metadata: MetaData | None) -> None:
        self.folder, self.metadata = folder, metadata
        self.name = folder.name  # the plugin's name: two of them may be registered side by side

    @hookimpl
    def sheepfold_migrations(self) -> list[Path]:
        return [self.folder]

    @hookimpl
    def sheepfold_model_metadata(self) -> list[MetaData]:
        return [] if self.metadata is None else [self.metadata]


def folder_with(tmp_path: Path, name: str, revision: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{name}.py").write_text(revision)
    return folder


def migrations_of(database: dict[str, object], *plugins: object) -> Migrations:
    app = create_app({"database": database}, plugins=[database_plugin, *plugins], load_entry_points=False)
    return Migrations.of(app.platform)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    if request.param == "sqlite":
        return {"url": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"}
    return request.getfixturevalue("pg_settings")


async def test_hook_model_metadata_check_passes_when_models_and_migrations_agree(database, tmp_path):
    notes = folder_with(tmp_path, "notes_0001", REVISION)
    other = folder_with(tmp_path, "other_0001", OTHER_REVISION)  # a table no model declares: not compared
    migrations = migrations_of(database, ModelPlugin(notes, Agrees.metadata), ModelPlugin(other, None))
    try:
        await migrations.upgrade()
        assert await migrations.check() == []
    finally:
        await migrations.database.close()


async def test_check_names_each_difference_between_models_and_migrations(database, tmp_path):
    migrations = migrations_of(database, ModelPlugin(folder_with(tmp_path, "notes_0001", REVISION), Disagrees.metadata))
    try:
        await migrations.upgrade()
        differences = await migrations.check()
        assert "add_column notes.title" in differences
        assert any(line.startswith("modify_type notes.body: TEXT()") for line in differences), differences
    finally:
        await migrations.database.close()


async def test_check_refuses_a_database_behind_the_migrations(pg_settings, tmp_path):
    migrations = migrations_of(pg_settings, ModelPlugin(folder_with(tmp_path, "notes_0001", REVISION), Agrees.metadata))
    try:
        with pytest.raises(NotAtHeads, match=r"notes_0001.*sheepfold db upgrade"):
            await migrations.check()
    finally:
        await migrations.database.close()


async def test_history_lists_every_revision_newest_first_and_marks_the_current(pg_settings, tmp_path):
    notes = folder_with(tmp_path, "notes_0001", REVISION)
    migrations = migrations_of(pg_settings, ModelPlugin(notes, None), example_plugin)
    try:
        lines = await migrations.history()
        assert [line.split(",")[0] for line in lines if "example" in line] == [
            "example_0001 -> example_0002 (example) (head)",
            "<base> -> example_0001 (example)",
        ]
        assert any(line.startswith("<base> -> notes_0001 (notes) (head)") for line in lines)
        await migrations.upgrade("example@head")
        marked = [line for line in await migrations.history(indicate_current=True) if line.endswith("(current)")]
        assert len(marked) == 1 and marked[0].startswith("example_0001 -> example_0002")
    finally:
        await migrations.database.close()


async def test_the_example_builds_its_index_concurrently_replacing_a_failed_builds_leftover(pg_settings):
    migrations = migrations_of(pg_settings, example_plugin)
    database = migrations.database
    valid = text(f"SELECT indisvalid, pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = {NEWEST}")
    try:
        await migrations.upgrade("example_0001")
        async with database.engine.begin() as connection:
            # What a CREATE INDEX CONCURRENTLY that failed half-way leaves: an invalid index under the name.
            await connection.execute(text("CREATE INDEX ix_example_guestbook_newest ON example_guestbook_entries (id)"))
            await connection.execute(text(f"UPDATE pg_index SET indisvalid = false WHERE indexrelid = {NEWEST}"))
            await connection.execute(
                text(
                    "INSERT INTO example_guestbook_entries (author, message, created_at) "
                    "SELECT 'author-' || (n % 50), 'message ' || n, now() - n * interval '1 second' "
                    "FROM generate_series(1, 20000) AS n"
                )
            )
        # PostgreSQL refuses CONCURRENTLY inside a transaction block: this upgrade succeeding proves it left one.
        await migrations.upgrade()
        async with database.engine.begin() as connection:
            is_valid, definition = (await connection.execute(valid)).one()
            assert is_valid and definition.endswith("(created_at DESC, id DESC)"), definition
            await connection.execute(text("ANALYZE example_guestbook_entries"))
            hot = recent_entries().compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            plan = "\n".join(row[0] for row in await connection.execute(text(f"EXPLAIN {hot}")))
        assert "Index Scan using ix_example_guestbook_newest" in plan and "Sort" not in plan, plan
        assert await migrations.check() == []  # the example's models declare the indexes its migrations build
        await migrations.downgrade("example_0001")
        async with database.engine.connect() as connection:
            assert (await connection.execute(valid)).first() is None
    finally:
        await database.close()


NOTES_PLUGIN = """
from pathlib import Path

from sqlalchemy import Integer, MetaData, String, Table, Column

from sheepfold import hookimpl

FOLDER = Path(__file__).parent / "notes_migrations"
MODELS = MetaData()
Table("notes", MODELS, Column("id", Integer, primary_key=True), Column("body", String(10)))


@hookimpl
def sheepfold_migrations():
    return [FOLDER]


@hookimpl
def sheepfold_model_metadata():
    return [MODELS]
"""


def test_sheepfold_db_history_and_check_from_the_command_line(postgres_url, pg_schema, tmp_path):
    """A real `sheepfold` process with the installed plugins; a local plugin whose model disagrees fails the check."""
    env = {
        "SHEEPFOLD_ENV": "testing",
        **ADMIN_ENV,
        "SHEEPFOLD_DATABASE__URL": postgres_url,
        "SHEEPFOLD_DATABASE__SCHEMA": pg_schema,
    }
    history = run_sheepfold("db", "history", env=env)
    assert history.returncode == 0, history.stderr
    assert history.stdout.splitlines()[0].startswith("example_0001 -> example_0002 (example) (head)")
    behind = run_sheepfold("db", "check", env=env)
    assert behind.returncode == 1 and "sheepfold db upgrade" in behind.stderr
    assert run_sheepfold("db", "upgrade", env=env).returncode == 0
    agrees = run_sheepfold("db", "check", env=env)
    assert agrees.returncode == 0, agrees.stderr
    assert "agree" in agrees.stdout

    local = tmp_path / "local_plugins"
    local.mkdir()
    (local / "notes.py").write_text(NOTES_PLUGIN)
    folder_with(local, "notes_migrations", REVISION)
    env["SHEEPFOLD_PLUGINS__DIRECTORY"] = str(local)
    assert run_sheepfold("db", "upgrade", env=env).returncode == 0
    disagrees = run_sheepfold("db", "check", env=env)
    assert disagrees.returncode == 1
    assert "modify_type notes.body" in disagrees.stderr, disagrees.stderr
    assert "example" not in disagrees.stderr  # the example's models still agree
