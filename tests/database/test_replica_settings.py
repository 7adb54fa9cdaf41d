"""Replica settings: defaults, each bad entry of ``database.replicas`` named by position, no password shown."""

from __future__ import annotations

import pytest

from sheepfold import SettingsError, create_app
from sheepfold_database import ReplicationSettings
from sheepfold_database import plugin as database_plugin

PRIMARY = "postgresql+asyncpg://app:hunter2secret@primary.internal:5432/app"


def build(database: dict) -> ReplicationSettings:
    app = create_app({"database": database}, plugins=[database_plugin], load_entry_points=False)
    return ReplicationSettings.from_settings(app.platform.settings)


def test_by_default_there_is_no_replica_and_read_your_writes_lasts_five_seconds():
    settings = build({})
    assert settings.replicas == ()
    assert (settings.max_lag, settings.read_your_writes, settings.check_interval) == (5.0, 5.0, 1.0)


def test_a_replica_is_a_url_or_a_table_with_a_weight_and_a_name():
    settings = build(
        {
            "url": PRIMARY,
            "replicas": [
                "postgresql+asyncpg://app:hunter2secret@replica-1.internal/app",
                {"url": "postgresql+asyncpg://app@replica-2.internal:6432/app", "weight": 3, "name": "eu-2"},
            ],
            "max_lag": 2,
            "read_your_writes": 0,
        }
    )
    first, second = settings.replicas
    assert (first.name, first.weight, second.name, second.weight) == ("replica-1.internal:5432", 1.0, "eu-2", 3.0)
    assert first.safe_url == "postgresql+asyncpg://app:***@replica-1.internal/app"
    assert (settings.max_lag, settings.read_your_writes) == (2.0, 0.0)


@pytest.mark.parametrize(
    ("replicas", "expected"),
    [
        ("postgresql+asyncpg://app:hunter2secret@replica/app", "database.replicas: expected a list"),
        (["postgresql://app:hunter2secret@replica/app"], "database.replicas[0].url: expected a PostgreSQL URL"),
        (["sqlite+aiosqlite:///hunter2secret.db"], "database.replicas[0].url: expected a PostgreSQL URL"),
        ([{"weight": 2}], "database.replicas[0].url: expected a PostgreSQL URL"),
        ([{"url": "postgresql+asyncpg://a:hunter2secret@r/app", "weight": 0}], "database.replicas[0].weight"),
        ([{"url": "postgresql+asyncpg://a:hunter2secret@r/app", "weight": True}], "database.replicas[0].weight"),
        ([{"url": "postgresql+asyncpg://a:hunter2secret@r/app", "name": ""}], "database.replicas[0].name"),
        ([{"url": "postgresql+asyncpg://a:hunter2secret@r/app", "wieght": 2}], "unknown key(s) wieght"),
        ([42], "database.replicas[0]: expected a URL or a table"),
        (
            ["postgresql+asyncpg://a:hunter2secret@r/app", "postgresql+asyncpg://b:hunter2secret@r:5432/other"],
            "two replicas are named 'r:5432'",
        ),
        # Found by the hostile-settings probe: each started, crashed unnamed, or broke metrics and logs.
        ([{"url": "postgresql+asyncpg://a:hunter2secret@r/app", "weight": 10**400}], "database.replicas[0].weight"),
        ([{"url": "postgresql+asyncpg://a:hunter2secret@r/app", "weight": float("inf")}], "replicas[0].weight"),
        ([{"url": "postgresql+asyncpg://a:hunter2secret@r/app", "weight": float("nan")}], "replicas[0].weight"),
        (["postgresql+asyncpg://a:hunter2secret@r:99999/app"], "database.replicas[0].url: expected a PostgreSQL URL"),
        (["postgresql+asyncpg://a:hunter2secret@r:0/app"], "database.replicas[0].url: expected a PostgreSQL URL"),
        ([{"url": "postgresql+asyncpg://a:hunter2secret@r/app", "name": "eu\n1"}], "replicas[0].name: expected a"),
        ([{"url": "postgresql+asyncpg://a:hunter2secret@r/app", "name": "eu\ud8001"}], "replicas[0].name: expected"),
        (
            [
                {"url": "postgresql+asyncpg://a:hunter2secret@r/app", "name": "one"},
                {"url": "postgresql+asyncpg://b:hunter2secret@r:5432/app", "name": "two"},
            ],
            "database.replicas[1].url: the same database as database.replicas[0]",
        ),
    ],
)
def test_a_bad_replica_is_refused_by_its_position_without_printing_its_password(replicas, expected):
    with pytest.raises(SettingsError) as caught:
        build({"url": PRIMARY, "replicas": replicas})
    assert expected in str(caught.value)
    assert "hunter2secret" not in str(caught.value)


def test_a_primary_port_out_of_range_is_refused_without_printing_its_password():
    with pytest.raises(SettingsError) as caught:
        build({"url": "postgresql+asyncpg://app:hunter2secret@primary:70000/app"})
    assert "database.url: expected" in str(caught.value)
    assert "hunter2secret" not in str(caught.value)


def test_replicas_need_a_postgresql_primary():
    with pytest.raises(SettingsError, match="replicas need a PostgreSQL primary"):
        build({"replicas": ["postgresql+asyncpg://app@replica/app"]})  # the primary is SQLite in memory


def test_lag_and_window_settings_are_checked():
    with pytest.raises(SettingsError) as caught:
        build({"max_lag": 0, "read_your_writes": -1, "replica_check_interval": "often"})
    for key in ("database.max_lag", "database.read_your_writes", "database.replica_check_interval"):
        assert key in str(caught.value)
