"""Alembic migrations: folders offered by plugins (sheepfold_migrations), the `sheepfold db` commands,
and the example plugin's index doing its job (EXPLAIN on PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from blacksheep.contents import JSONContent
from blacksheep.testing import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql

from sheepfold import PluginError, create_app, hookimpl
from sheepfold.database import Database
from sheepfold_database import MEMORY_URL, Migrations
from sheepfold_database import plugin as database_plugin
from sheepfold_example import plugin as example_plugin
from sheepfold_example.guestbook import latest_entries
from tests.database.conftest import running_app
from tests.support.admin import ADMIN_ENV

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "notes_0001"
down_revision = None
branch_labels = ("notes",)
depends_on = None


def upgrade():
    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text))


def downgrade():
    op.drop_table("notes")
"""


class NotesPlugin:
    """A plugin that offers one migration folder through the hook."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def sheepfold_migrations(self) -> list[Path]:
        return [self.folder]


@pytest.fixture
def notes_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "notes_migrations"
    folder.mkdir()
    (folder / "notes_0001.py").write_text(REVISION)
    return folder


async def tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_hook_migrations_folders_of_every_plugin_upgrade_and_downgrade_one_by_one(tmp_path, notes_folder):
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    app = create_app(
        {"database": {"url": url}},
        plugins=[database_plugin, NotesPlugin(notes_folder), example_plugin],
        load_entry_points=False,
    )
    migrations = Migrations.of(app.platform)
    assert migrations.locations == [notes_folder, example_plugin.guestbook.MIGRATIONS]
    database = app.platform.require(Database)
    try:
        assert await migrations.current() == []
        await migrations.upgrade()
        assert {"notes", "example_guestbook_entries", "alembic_version"} <= await tables(database)
        assert sorted(str(r) for r in await migrations.current()) == [
            "example_0002 (example) (head)",
            "notes_0001 (notes) (head)",
        ]
        await migrations.downgrade("notes@base")  # one plugin steps back; the other stays
        assert "notes" not in await tables(database)
        assert [r.revision for r in await migrations.current()] == ["example_0002"]
        await migrations.downgrade("base")
        assert await tables(database) == {"alembic_version"}
    finally:
        await database.close()


def test_hook_migrations_a_folder_that_does_not_exist_names_the_plugin(tmp_path):
    app = create_app(
        {"database": {"url": MEMORY_URL}},
        plugins=[database_plugin, NotesPlugin(tmp_path / "missing")],
        load_entry_points=False,
    )
    with pytest.raises(PluginError, match=r"NotesPlugin.*sheepfold_migrations.*does not exist"):
        Migrations.of(app.platform)


async def test_an_in_memory_database_is_migrated_at_start_so_the_example_works_without_postgresql():
    async with running_app({"url": MEMORY_URL}, example_plugin) as app:
        client = TestClient(app)
        signed = await client.post("/example/guestbook", content=JSONContent({"author": "ann", "message": "hello"}))
        assert signed.status == 201
        listed = await (await client.get("/example/guestbook?author=ann")).json()
        assert [entry["message"] for entry in listed["entries"]] == ["hello"]


async def test_the_example_guestbook_on_postgresql_newest_first(pg_settings):
    app = create_app({"database": pg_settings}, plugins=[database_plugin, example_plugin], load_entry_points=False)
    await Migrations.of(app.platform).upgrade()
    await app.start()
    try:
        client = TestClient(app)
        for message in ("first", "second", "third"):
            assert (
                await client.post("/example/guestbook", content=JSONContent({"author": "bo", "message": message}))
            ).status == 201
        assert (
            await client.post("/example/guestbook", content=JSONContent({"author": "", "message": "x"}))
        ).status == 422
        assert (
            await client.post("/example/guestbook", content=JSONContent({"author": "nul\x00", "message": "x"}))
        ).status == 422  # PostgreSQL text cannot hold NUL: refused before the database sees it
        listed = await (await client.get("/example/guestbook?author=bo")).json()
        assert [entry["message"] for entry in listed["entries"]] == ["third", "second", "first"]
    finally:
        await app.stop()


async def test_the_hot_query_of_the_example_uses_its_index_on_postgresql(pg_settings):
    app = create_app({"database": pg_settings}, plugins=[database_plugin, example_plugin], load_entry_points=False)
    database = app.platform.require(Database)
    try:
        await Migrations.of(app.platform).upgrade()
        async with database.engine.begin() as connection:
            # 20,000 entries by 500 authors: enough that a sequential scan and a sort would be the worse plan.
            await connection.execute(
                text(
                    "INSERT INTO example_guestbook_entries (author, message, created_at) "
                    "SELECT 'author-' || (n % 500), 'message ' || n, now() - n * interval '1 second' "
                    "FROM generate_series(1, 20000) AS n"
                )
            )
            await connection.execute(text("ANALYZE example_guestbook_entries"))
        hot = latest_entries("author-42").compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        async with database.engine.connect() as connection:
            plan = "\n".join(row[0] for row in await connection.execute(text(f"EXPLAIN {hot}")))
        assert "Index Scan using ix_example_guestbook_author_newest" in plan, plan
        assert "Sort" not in plan and "Seq Scan" not in plan, plan
    finally:
        await database.close()


def run_sheepfold(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("sheepfold")), *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, **env})


def test_sheepfold_db_upgrade_current_downgrade_from_the_command_line(postgres_url, pg_schema):
    """A real `sheepfold` process: installed plugins found by entry point, settings from the environment."""
    env = {
        "SHEEPFOLD_ENV": "testing",
        **ADMIN_ENV,
        "SHEEPFOLD_DATABASE__URL": postgres_url,
        "SHEEPFOLD_DATABASE__SCHEMA": pg_schema,
    }
    upgraded = run_sheepfold("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    current = run_sheepfold("db", "current", env=env)
    assert current.returncode == 0, current.stderr
    assert "example_0002 (example) (head)" in current.stdout
    downgraded = run_sheepfold("db", "downgrade", "example@base", env=env)
    assert downgraded.returncode == 0, downgraded.stderr
    assert "example_000" not in run_sheepfold("db", "current", env=env).stdout


def test_sheepfold_db_refuses_a_bad_url_without_printing_its_password():
    result = run_sheepfold("db", "current", env={"SHEEPFOLD_DATABASE__URL": "postgresql://u:hunter2secret@h/db"})
    assert result.returncode == 1
    assert "database.url" in result.stderr and "hunter2secret" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (("db", "upgrade", "nosuchrev"), "cannot upgrade to 'nosuchrev': Can't locate revision"),
        (("db", "upgrade", "example@+99"), "cannot upgrade to 'example@+99': Relative revision +99"),
        (("db", "downgrade", "@@@"), "cannot downgrade to '@@@': Alembic cannot read it as a revision"),
    ],
)
def test_sheepfold_db_names_a_revision_it_cannot_reach_in_one_line(arguments, named):
    # Was Alembic's traceback (CommandError; AssertionError for '@@@').
    result = run_sheepfold(*arguments, env={"SHEEPFOLD_ENV": "development", "SHEEPFOLD_DATABASE__URL": MEMORY_URL})
    assert result.returncode == 1
    assert f"sheepfold: {named}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["current", "check"])
def test_sheepfold_db_names_an_unreachable_database_in_one_line_without_its_password(command):
    # Was a traceback ending in DatabaseUnavailable. Port 1 on loopback: refused at once.
    url = "postgresql+asyncpg://postgres:hunter2secret@127.0.0.1:1/test"
    result = run_sheepfold("db", *command.split(), env={"SHEEPFOLD_ENV": "development", "SHEEPFOLD_DATABASE__URL": url})
    assert result.returncode == 1
    assert "sheepfold: cannot connect to the database" in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2secret" not in result.stderr + result.stdout


async def test_migrations_run_without_the_apps_statement_timeout(pg_settings, tmp_path):
    folder = tmp_path / "slow_migrations"
    folder.mkdir()
    (folder / "slow_0001.py").write_text(
        REVISION.replace('"notes_0001"', '"slow_0001"')
        .replace('("notes",)', '("slow",)')
        .replace("def upgrade():\n", 'def upgrade():\n    op.execute("SELECT pg_sleep(0.3)")  # a long index build\n')
    )
    settings = {**pg_settings, "statement_timeout": 0.1}
    app = create_app({"database": settings}, plugins=[database_plugin, NotesPlugin(folder)], load_entry_points=False)
    migrations = Migrations.of(app.platform)
    try:
        await migrations.upgrade()
        assert [r.revision for r in await migrations.current()] == ["slow_0001"]
    finally:
        await app.platform.require(Database).close()
