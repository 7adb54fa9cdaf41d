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
