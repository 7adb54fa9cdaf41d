"""The ``[sessions]`` settings: a secret is required outside development, and refused when weak."""

from __future__ import annotations

import logging

import pytest

import sheepfold_sessions.plugin as sessions_plugin
from sheepfold import SettingsError, create_app
from sheepfold_sessions import PlatformSessionStore
from tests.support.admin import ADMIN_TOKEN


def app_with(monkeypatch, environment: str, **sessions):
    monkeypatch.setenv("SHEEPFOLD_ENV", environment)
    admin = {"token": ADMIN_TOKEN}  # the admin token is required outside development too; not what is tested here
    return create_app({"sessions": sessions, "admin": admin}, plugins=[sessions_plugin], load_entry_points=False)


@pytest.mark.parametrize("environment", ["production", "testing", "staging"])
def test_no_secret_outside_development_stops_start_up_naming_the_key(monkeypatch, environment):
    with pytest.raises(SettingsError) as error:
        app_with(monkeypatch, environment, secret="")
    (problem,) = error.value.problems
    assert problem.startswith("sessions.secret: required outside development")


def test_development_generates_a_secret_and_warns(monkeypatch, caplog):
    with caplog.at_level(logging.WARNING, logger="sheepfold.sessions"):
        app = app_with(monkeypatch, "development", secret="")
    assert "sessions.secret is not set" in caplog.text
    assert app.platform.require(PlatformSessionStore).settings.secret


def test_a_short_secret_is_refused_without_printing_it(monkeypatch):
    with pytest.raises(SettingsError) as error:
        app_with(monkeypatch, "production", secret="short-secret", previous_secrets=["also-short"])
    assert "at least 32 characters" in str(error.value)
    assert "short-secret" not in str(error.value) and "also-short" not in str(error.value)


def test_an_absolute_timeout_shorter_than_the_idle_one_is_refused(monkeypatch):
    with pytest.raises(SettingsError, match=r"sessions\.absolute_timeout"):
        app_with(monkeypatch, "production", secret="x" * 40, idle_timeout=600, absolute_timeout=60)
