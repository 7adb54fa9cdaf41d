"""``[database]`` settings: defaults that need no PostgreSQL, validation, and no password in any message."""

from __future__ import annotations

import pytest

from sheepfold import SettingsError, create_app
from sheepfold_database import DatabaseSettings
from sheepfold_database import plugin as database_plugin
from sheepfold_database.engine import connect_arguments


def build(database: dict) -> DatabaseSettings:
    app = create_app({"database": database}, plugins=[database_plugin], load_entry_points=False)
    return DatabaseSettings.from_settings(app.platform.settings)


def test_the_default_is_sqlite_in_memory_so_no_postgresql_is_needed():
    settings = build({})
    assert (settings.url.drivername, settings.url.database) == ("sqlite+aiosqlite", ":memory:")
    assert settings.is_memory
    assert (settings.pool_size, settings.max_overflow, settings.pre_ping, settings.required) == (20, 10, True, True)
    assert (settings.warning_percent, settings.error_percent) == (80.0, 95.0)


def test_postgresql_connections_carry_statement_timeout_schema_and_application_name():
    settings = build(
        {
            "url": "postgresql+asyncpg://app:pw@db.internal:5432/app",
            "statement_timeout": 2.5,
            "schema": "tenant",
            "application_name": "web",
            "connect_timeout": 3,
        }
    )
    assert connect_arguments(settings) == {
        "timeout": 3.0,
        "command_timeout": 3.5,  # the client's backstop for a server that stopped answering
        "server_settings": {"application_name": "web", "statement_timeout": "2500", "search_path": "tenant"},
    }
    assert settings.safe_url == "postgresql+asyncpg://app:***@db.internal:5432/app"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://admin:hunter2secret@db.internal/app",  # psycopg2: not an async driver
        "nonsense://admin:hunter2secret@db.internal/app",
        "admin:hunter2secret@db.internal",
    ],
)
def test_a_bad_url_is_refused_without_printing_its_password(url):
    with pytest.raises(SettingsError) as caught:
        build({"url": url})
    assert "database.url" in str(caught.value)
    assert "hunter2secret" not in str(caught.value)


@pytest.mark.parametrize("timeout", [float("inf"), 10**400, 2_147_484])
def test_a_statement_timeout_beyond_postgresqls_limit_is_refused_naming_the_key(timeout):
    # Infinity passed `gte=0`; building the engine then failed (OverflowError of int(inf)) naming a hook, not the key.
    with pytest.raises(SettingsError, match=r"database\.statement_timeout"):
        build({"statement_timeout": timeout})


def test_every_bad_key_is_reported_at_once():
    with pytest.raises(SettingsError) as caught:
        build({"pool_size": 0, "max_overflow": -1, "pre_ping": "yes", "monitor": {"warning_percent": 120}})
    text = str(caught.value)
    for key in ("database.pool_size", "database.max_overflow", "database.pre_ping", "database.monitor.warning_percent"):
        assert key in text


def test_a_warning_threshold_above_the_error_threshold_is_refused():
    with pytest.raises(SettingsError, match="warning_percent"):
        build({"monitor": {"warning_percent": 96, "error_percent": 90}})
