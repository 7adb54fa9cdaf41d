"""The Redis and PostgreSQL a test runs against: found, or reported (skipped, or failed under ``CI=true``)."""

from __future__ import annotations

import os
import socket
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

#: The machine's Redis; ``SHEEPFOLD_TEST_REDIS_URL`` overrides.
REDIS_URL = os.environ.get("SHEEPFOLD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: The machine's PostgreSQL database ``test`` (an SQLAlchemy URL); ``SHEEPFOLD_TEST_POSTGRES_URL`` overrides.
POSTGRES_URL = os.environ.get("SHEEPFOLD_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def in_ci() -> bool:
    """True under ``CI=true`` (or ``1``, ``yes``): a missing service fails the test instead of skipping it."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(name: str, url: str) -> str:
    """Return ``url`` when its TCP port answers; else skip the test (fail it under CI) naming the service."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return url
    except OSError as error:
        unavailable(f"{name} is not reachable at {parts.hostname}:{parts.port} ({error})")


def unavailable(reason: str) -> NoReturn:
    """Skip the running test with ``reason``; under CI fail it, so that CI never passes by skipping."""
    if in_ci():
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(reason)


def spare_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
