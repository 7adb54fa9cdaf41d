"""Settings: sources, validation with every problem at once, and no secret ever printed."""

from __future__ import annotations

import pytest
from dynaconf import Validator

from sheepfold import SettingsError, create_app, url_parts
from sheepfold.settings import is_secret, load_settings
from tests.kernel.plugins_for_tests import plugin
from tests.support.plugins import needs


def test_defaults_come_from_validators_so_no_file_is_needed():
    app = create_app(load_entry_points=False)
    assert app.platform.settings.get("cache.backend") == "memory"
    assert app.platform.settings.get("http.max_body_size") == 1_048_576


def test_environment_variables_override_nested_keys(monkeypatch):
    monkeypatch.setenv("SHEEPFOLD_CACHE__MAX_ENTRIES", "7")
    assert load_settings().get("cache.max_entries") == 7


def test_a_settings_file_is_read_per_environment(tmp_path, monkeypatch):
    path = tmp_path / "settings.toml"
    path.write_text("[default.cache]\nmax_entries = 5\n[production.cache]\nmax_entries = 9\n")
    monkeypatch.setenv("SHEEPFOLD_SETTINGS_FILE", str(path))
    monkeypatch.setenv("SHEEPFOLD_ENV", "production")
    assert load_settings().get("cache.max_entries") == 9
    monkeypatch.setenv("SHEEPFOLD_ENV", "testing")
    assert load_settings().get("cache.max_entries") == 5


def test_every_bad_setting_is_reported_at_once_naming_key_and_expectation():
    with pytest.raises(SettingsError) as error:
        create_app({"cache": {"max_entries": "lots"}, "http": {"max_body_size": 0}}, load_entry_points=False)
    problems = error.value.problems
    assert len(problems) == 2
    assert any(p.startswith("cache.max_entries:") and "int" in p for p in problems)
    assert any(p.startswith("http.max_body_size:") and "gte 1" in p for p in problems)


def test_hook_settings_validators_of_plugins_are_checked_with_the_kernels():
    validators = plugin("mine", sheepfold_settings_validators=lambda: [Validator("mine.level", is_in=["a", "b"])])
    with pytest.raises(SettingsError) as error:
        create_app(
            {"mine": {"level": "z"}, "cache": {"max_entries": -1}}, plugins=[validators], load_entry_points=False
        )
    assert len(error.value.problems) == 2
    assert any("mine.level" in p for p in error.value.problems)


@pytest.mark.parametrize("key", ["admin.token", "mine.password", "mine.api_key", "mine.dsn", "mine.client_secret"])
def test_a_secret_value_is_never_printed(key):
    section, name = key.split(".")
    validators = plugin("mine", sheepfold_settings_validators=lambda: [Validator(key, is_type_of=str, len_min=40)])
    with pytest.raises(SettingsError) as error:
        create_app({section: {name: "hunter2-is-my-secret"}}, plugins=[validators], load_entry_points=False)
    assert key in str(error.value)
    assert "hunter2" not in str(error.value)


def test_unknown_adapter_names_are_listed_with_the_registered_ones():
    with pytest.raises(SettingsError) as error:
        create_app({"cache": {"backend": "memcached"}, "state": {"fallback": "etcd"}}, load_entry_points=False)
    text = str(error.value)
    assert "cache.backend: no cache adapter named 'memcached'; registered: memory" in text
    assert "state.fallback: no state adapter named 'etcd'" in text


def test_a_disabled_list_that_is_not_a_list_is_a_settings_error():
    with pytest.raises(SettingsError, match=r"plugins.disabled"):
        create_app({"plugins": {"disabled": "example"}}, load_entry_points=False)


@pytest.mark.parametrize(
    ("key", "secret"),
    [("redis.password", True), ("database.dsn", True), ("sessions.secret", True), ("cache.backend", False)],
)
def test_secret_looking_keys(key, secret):
    assert is_secret(key) is secret


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        # Each raised from inside validation or create_app (ValueError, TypeError, UnicodeEncodeError), naming no key.
        ({"jobs": {"queues": "x"}}, "jobs.queues: expected a table of queues, e.g. {ocr = {concurrency = 4}}"),
        pytest.param(
            {"database": {"monitor": [1]}},
            "database.monitor.interval: a value of a shape this setting cannot take",
            marks=needs("sheepfold_database"),
        ),
        ({"admin": {"token": "\udcff" * 40}}, "admin.token: expected UTF-8 text"),
        # An integer no float holds: each plugin's float() of it raised OverflowError, naming no key.
        ({"http": {"max_body_size": 10**400}}, "http.max_body_size: expected a number of ordinary size"),
        pytest.param(
            {"database": {"monitor": {"warning_percent": -(10**400)}}},
            "database.monitor.warning_percent: expected a number of ordinary size",
            marks=needs("sheepfold_database"),
        ),
        # A boolean is an int to Python: is_type_of=int took `true` as 1.
        ({"http": {"max_body_size": True}}, "http.max_body_size: expected a number, got true"),
        pytest.param(
            {"console": {"failed_jobs": True}},
            "console.failed_jobs: expected a number, got true",
            marks=needs("sheepfold_console"),
        ),
        pytest.param(
            {"telemetry": {"endpoint": "127.0.0.1:4318"}},
            "telemetry.endpoint: expected the collector's base URL",
            marks=needs("sheepfold_telemetry"),
        ),
        pytest.param(
            {"telemetry": {"endpoint": "http://collector:99999"}},
            "telemetry.endpoint: expected the collector's base URL",
            marks=needs("sheepfold_telemetry"),
        ),
        pytest.param(
            {"sessions": {"absolute_timeout": 10**400}},
            "sessions.absolute_timeout: expected a number of ordinary size",
            marks=needs("sheepfold_sessions"),
        ),
        ({"plugins": {"directory": 5}}, "plugins.directory"),
        pytest.param(
            {"realtime": {"path": "ws{x}"}},
            "realtime.path: expected a path such as /ws",
            marks=needs("sheepfold_realtime"),
        ),
    ],
)
def test_a_setting_of_a_shape_no_check_expected_stops_start_up_naming_its_key(settings, named):
    with pytest.raises(SettingsError) as caught:
        create_app(settings)
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("value", "scheme"),
    [
        ("redis://127.0.0.1:6379/0", "redis"),
        ("https://collector", "https"),
        ("redis://:pw@[::1/0", None),  # urlsplit raises on it
        ("http://host:99999", None),  # a port out of range: .port raises
        ("http://host:port", None),
        (5, None),
        (None, None),
    ],
)
def test_url_parts_reads_what_urlsplit_reads_and_never_raises(value, scheme):
    parts = url_parts(value)
    assert (parts.scheme if parts is not None else None) == scheme
