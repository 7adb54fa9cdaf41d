"""The pytest plugin of ``sheepfold.testing`` (entry point ``pytest11``): fixtures, markers, asyncio mode.

Installed with ``pip install 'sheepfold[testing]'``, pytest loads it by
itself. It works with pytest's default settings: unless the project sets
``asyncio_mode`` (in its configuration or on the command line), async tests
and fixtures run under pytest-asyncio's ``auto`` mode, so a plugin author's
``async def test_...`` needs no marker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import pytest

from sheepfold.testing.apps import TestApp, started_app
from sheepfold.testing.isolation import fresh_prefix, postgres_schema, remove_redis_prefix
from sheepfold.testing.services import POSTGRES_URL, REDIS_URL, require_service

if TYPE_CHECKING:
    from sheepfold.testing.served import ServedApp

F = TypeVar("F", bound=Callable[..., Any])


def async_fixture(function: F) -> F:
    """A fixture that pytest-asyncio runs in every asyncio mode, ``strict`` included."""
    try:
        from pytest_asyncio import fixture
    except ImportError:  # sheepfold without its [testing] extra: pytest still starts; async fixtures do not run
        return cast(F, pytest.fixture(function))
    return cast(F, fixture(function))


class MakeApp(Protocol):
    """What the ``sheepfold_app`` fixture is: ``await sheepfold_app(settings, plugins, backends=...)``."""

    async def __call__(
        self, settings: Mapping[str, Any] | None = None, plugins: Iterable[object] = (), **options: Any
    ) -> TestApp: ...


class MakeServedApp(Protocol):
    """What the ``sheepfold_served`` fixture is: ``await sheepfold_served(settings, plugins, ...)``."""

    async def __call__(
        self, settings: Mapping[str, Any] | None = None, plugins: Iterable[object] = (), **options: Any
    ) -> ServedApp: ...


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "redis: needs a Redis server (skipped without one, failed under CI=true)")
    config.addinivalue_line(
        "markers", "postgres: needs a PostgreSQL server (skipped without one, failed under CI=true)"
    )
    # pytest-asyncio's default ("strict") skips an unmarked async test; the project's own choice wins.
    if config.pluginmanager.hasplugin("asyncio") and not _chosen(config, "asyncio_mode"):
        config.option.asyncio_mode = "auto"


def _chosen(config: pytest.Config, name: str) -> bool:
    """Whether the project set option ``name``: on the command line, in its configuration file, or with ``-o``."""
    if getattr(config.option, name, None) is not None:
        return True
    # pytest has no public "was this ini value set?": its parsed configuration (``-o`` included from pytest 9).
    configured = getattr(config, "_inicfg", {})
    overrides = getattr(config, "_override_ini", ())  # pytest < 9
    return name in configured or any(item.partition("=")[0] == name for item in overrides)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the machine's Redis (``SHEEPFOLD_TEST_REDIS_URL`` overrides); skips (fails under CI) without one."""
    return require_service("Redis", REDIS_URL)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the machine's PostgreSQL database ``test`` (``SHEEPFOLD_TEST_POSTGRES_URL`` overrides)."""
    return require_service("PostgreSQL", POSTGRES_URL)


@async_fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own on the machine's Redis; its keys are removed after the test."""
    prefix = fresh_prefix()
    yield prefix
    await remove_redis_prefix(redis_url, prefix)


@pytest.fixture
def redis_settings(redis_url: str, redis_prefix: str) -> dict[str, Any]:
    """``{"redis": {"url": ..., "prefix": ...}}``: plugin-redis on the machine's Redis, under the test's prefix."""
    return {"redis": {"url": redis_url, "prefix": redis_prefix}}


@async_fixture
async def pg_schema(postgres_url: str) -> AsyncIterator[str]:
    """A fresh, empty schema in database ``test``, dropped with everything in it after the test."""
    async with postgres_schema(postgres_url) as schema:
        yield schema


@pytest.fixture
def postgres_settings(postgres_url: str, pg_schema: str) -> dict[str, Any]:
    """``{"database": {"url": ..., "schema": ...}}``: sheepfold-database on PostgreSQL, in the test's schema."""
    return {"database": {"url": postgres_url, "schema": pg_schema}}


@async_fixture
async def sheepfold_app() -> AsyncIterator[MakeApp]:
    """A factory of started apps: ``app = await sheepfold_app(settings, plugins, backends={"state": "redis"})``.

    Arguments are :func:`~sheepfold.testing.apps.started_app`'s (``strict``,
    ``eager_jobs``, ``load_entry_points``). Every app it made is stopped after the test.
    """
    async with AsyncExitStack() as stack:

        async def make(
            settings: Mapping[str, Any] | None = None, plugins: Iterable[object] = (), **options: Any
        ) -> TestApp:
            return await stack.enter_async_context(started_app(settings, plugins, **options))

        yield make


@async_fixture
async def sheepfold_served() -> AsyncIterator[MakeServedApp]:
    """As ``sheepfold_app``, each app also served by uvicorn on a loopback port (``.http``, ``.websocket()``)."""
    from sheepfold.testing.served import served_app  # httpx and websockets: the [testing] extra

    async with AsyncExitStack() as stack:

        async def make(
            settings: Mapping[str, Any] | None = None, plugins: Iterable[object] = (), **options: Any
        ) -> ServedApp:
            return await stack.enter_async_context(served_app(settings, plugins, **options))

        yield make
