"""Fixtures shared by the whole suite: real services, found or reported.

A test that needs Redis or PostgreSQL asks for ``redis_url`` or
``postgres_url``. When the service does not answer, the test is skipped with
the reason on a developer's machine and fails under ``CI=true``, so CI never
passes by skipping.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

from tests.support.plugins import missing_plugin

REDIS_URL = os.environ.get("SHEEPFOLD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("SHEEPFOLD_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(name: str, url: str) -> str:
    """Return ``url`` when its TCP port answers; else skip (or fail under CI) naming the service."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return url
    except OSError as error:
        reason = f"{name} is not reachable at {parts.hostname}:{parts.port} ({error})"
        if in_ci():
            pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the machine's Redis server (``SHEEPFOLD_TEST_REDIS_URL`` overrides)."""
    return require_service("Redis", REDIS_URL)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the machine's PostgreSQL database ``test`` (``SHEEPFOLD_TEST_POSTGRES_URL`` overrides)."""
    return require_service("PostgreSQL", POSTGRES_URL)


class _TestModule(pytest.Module):
    """A test module that needs a plugin which is not installed is skipped, naming the distribution.

    That happens only where plugins are installed alone (``.ci/isolated``);
    any other import error still fails the collection.
    """

    def collect(self):  # type: ignore[override]
        try:
            return super().collect()
        except pytest.Collector.CollectError as error:
            missing = missing_plugin(error.__cause__)
            if missing is None:
                raise
            pytest.skip(f"needs {missing}, which is not installed here", allow_module_level=True)


def pytest_pycollect_makemodule(module_path, parent):
    return _TestModule.from_parent(parent, path=module_path)
