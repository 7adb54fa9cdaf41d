"""The ``[database]`` settings section: validators with defaults, and the parsed :class:`DatabaseSettings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from dynaconf import Validator
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

#: The URL of an in-memory SQLite database (aiosqlite): the default of ``database.url``.
MEMORY_URL = "sqlite+aiosqlite:///:memory:"
_URL_MESSAGE = (
    "database.url: expected an async SQLAlchemy URL such as postgresql+asyncpg://user@host:5432/db or "
    f"{MEMORY_URL} (the value is not shown: it may hold a password)"
)


def parse_async_url(value: object) -> URL | None:
    """The URL when ``value`` names a database with an async driver, else None (never raises)."""
    if not isinstance(value, str):
        return None
    try:
        url = make_url(value)
        is_async = getattr(url.get_dialect(), "is_async", False)
    except (ArgumentError, NoSuchModuleError, ValueError):
        return None
    if url.port is not None and not 0 < url.port < 65536:
        return None  # make_url takes any number; the driver would fail only when it first connects
    return url if is_async else None


def settings_validators() -> list[Validator]:
    """Validators of ``[database]``, each with its default, so an empty settings file works."""
    number = (int, float)
    return [
        # `url` may carry a password: its messages never include the value (the kernel redacts only
        # keys that look secret, and "url" does not).
        Validator(
            "database.url",
            default=MEMORY_URL,
            condition=lambda value: parse_async_url(value) is not None,
            messages={"condition": _URL_MESSAGE},
        ),
        Validator("database.pool_size", default=20, is_type_of=int, gte=1),
        Validator("database.max_overflow", default=10, is_type_of=int, gte=0),
        Validator("database.pool_timeout", default=5.0, is_type_of=number, gt=0),
        Validator("database.recycle", default=1800, is_type_of=number),
        Validator("database.pre_ping", default=True, is_type_of=bool),
        Validator("database.pre_ping_idle", default=0.5, is_type_of=number, gte=0),
        # PostgreSQL's own bound (INT_MAX milliseconds): above it, or infinity, building the engine would raise.
        Validator("database.statement_timeout", default=30.0, is_type_of=number, gte=0, lte=2_147_483),
        Validator("database.connect_timeout", default=5.0, is_type_of=number, gt=0),
        Validator("database.application_name", default="sheepfold", is_type_of=str, len_max=63),
        Validator("database.schema", default="", is_type_of=str),
        Validator("database.required", default=True, is_type_of=bool),
        Validator("database.health_timeout", default=1.0, is_type_of=number, gt=0),
        Validator("database.monitor.interval", default=5.0, is_type_of=number, gt=0),
        Validator("database.monitor.warning_percent", default=80.0, is_type_of=number, gt=0, lte=100),
        Validator("database.monitor.error_percent", default=95.0, is_type_of=number, gt=0, lte=100),
        Validator("database.monitor.window", default=60.0, is_type_of=number, gt=0),
        Validator("database.n_plus_one_threshold", default=10, is_type_of=int, gte=0),
        Validator("database.expected_instances", default=1, is_type_of=int, gte=1),
        # After the two thresholds' own validators, so both hold their defaults or checked values.
        Validator(
            "database.monitor",
            condition=_thresholds_in_order,
            messages={"condition": "database.monitor.warning_percent: expected below database.monitor.error_percent"},
        ),
    ]


def _thresholds_in_order(monitor: object) -> bool:
    if not isinstance(monitor, Mapping):
        return True  # a mistyped section is reported by the thresholds' own validators
    try:
        return float(monitor["warning_percent"]) < float(monitor["error_percent"])
    except (KeyError, TypeError, ValueError):
        return True  # a missing or mistyped threshold is reported by its own validator


@dataclass(frozen=True)
class DatabaseSettings:
    """How to reach the database and how to size and watch its pool.

    Times are seconds. ``pre_ping`` never hands out a connection the server
    closed, and pings one idle for more than ``pre_ping_idle`` first (see
    ``sheepfold_database.pre_ping``). ``recycle`` below 0 never recycles; ``statement_timeout``
    0 sets none (PostgreSQL only, sent as the connection's
    ``statement_timeout``). ``schema`` sets PostgreSQL's ``search_path``.
    ``n_plus_one_threshold`` 0 turns the N+1 watch off. ``expected_instances``:
    the fleet's size the start-up connection budget assumes at least.
    """

    url: URL
    pool_size: int = 20
    max_overflow: int = 10
    pool_timeout: float = 5.0
    recycle: float = 1800
    pre_ping: bool = True
    pre_ping_idle: float = 0.5
    statement_timeout: float = 30.0
    connect_timeout: float = 5.0
    application_name: str = "sheepfold"
    schema: str = ""
    required: bool = True
    health_timeout: float = 1.0
    monitor_interval: float = 5.0
    warning_percent: float = 80.0
    error_percent: float = 95.0
    monitor_window: float = 60.0
    n_plus_one_threshold: int = 10
    expected_instances: int = 1

    @property
    def is_memory(self) -> bool:
        """True for an in-memory SQLite database, which lives and dies with its one connection."""
        return self.url.get_backend_name() == "sqlite" and self.url.database in (None, "", ":memory:")

    @property
    def is_postgresql(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    @property
    def safe_url(self) -> str:
        """The URL with its password masked: the only form that may be logged or shown."""
        # Unquoted for people (":memory:" rather than "%3Amemory%3A"); the password is already "***".
        return unquote(self.url.render_as_string(hide_password=True))

    @classmethod
    def from_settings(cls, settings: Any) -> DatabaseSettings:
        """Read validated settings (a Dynaconf object)."""
        url = parse_async_url(settings.get("database.url"))
        assert url is not None, "database.url is validated before this is called"
        return cls(
            url=url,
            pool_size=settings.get("database.pool_size"),
            max_overflow=settings.get("database.max_overflow"),
            pool_timeout=float(settings.get("database.pool_timeout")),
            recycle=float(settings.get("database.recycle")),
            pre_ping=settings.get("database.pre_ping"),
            pre_ping_idle=float(settings.get("database.pre_ping_idle")),
            statement_timeout=float(settings.get("database.statement_timeout")),
            connect_timeout=float(settings.get("database.connect_timeout")),
            application_name=settings.get("database.application_name"),
            schema=settings.get("database.schema"),
            required=settings.get("database.required"),
            health_timeout=float(settings.get("database.health_timeout")),
            monitor_interval=float(settings.get("database.monitor.interval")),
            warning_percent=float(settings.get("database.monitor.warning_percent")),
            error_percent=float(settings.get("database.monitor.error_percent")),
            monitor_window=float(settings.get("database.monitor.window")),
            n_plus_one_threshold=settings.get("database.n_plus_one_threshold"),
            expected_instances=settings.get("database.expected_instances"),
        )
