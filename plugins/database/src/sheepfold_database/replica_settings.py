"""The read-replica settings: ``database.replicas``, ``max_lag``, ``read_your_writes``, ``replica_check_interval``.

A replica is a URL, or a table ``{url = "...", weight = 2, name = "eu-1"}``.
Its URL may hold a password, so no message here ever shows a value: a bad
entry is named by its position (``database.replicas[1].url``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from dynaconf import ValidationError, Validator
from sqlalchemy.engine import URL

from sheepfold_database.settings import parse_async_url

_ENTRY_KEYS = frozenset({"url", "weight", "name"})
_NAME_LENGTH = 63
#: A weight is a share of the reads: a larger one is a typo (and 10**400 is no float).
_MAX_WEIGHT = 1_000_000
_URL_EXPECTED = (
    "expected a PostgreSQL URL with an async driver such as postgresql+asyncpg://user@replica:5432/db "
    "(the value is not shown: it may hold a password)"
)


@dataclass(frozen=True)
class ReplicaSettings:
    """One read replica: its ``url``, its share of the reads (``weight``) and the ``name`` it is shown and counted by.

    ``name`` defaults to ``host:port``; it labels the replica's metrics and
    its entry in ``/health``, never the URL (which may hold a password).
    """

    name: str
    url: URL
    weight: float = 1.0

    @property
    def safe_url(self) -> str:
        """The URL with its password masked: the only form that may be logged or shown."""
        return unquote(self.url.render_as_string(hide_password=True))


@dataclass(frozen=True)
class ReplicationSettings:
    """Where read-only sessions may read, and when they must read from the primary instead.

    A replica whose replay is more than ``max_lag`` seconds behind (or that
    is down, or not in recovery) is taken out of service; it is checked every
    ``check_interval`` seconds. For ``read_your_writes`` seconds after a
    signed-in user's request wrote to the primary, that user's read-only
    sessions read from the primary (0: only within the writing request).
    """

    replicas: tuple[ReplicaSettings, ...] = ()
    max_lag: float = 5.0
    read_your_writes: float = 5.0
    check_interval: float = 1.0

    @classmethod
    def from_settings(cls, settings: Any) -> ReplicationSettings:
        """Read validated settings (a Dynaconf object)."""
        replicas, problems = parse_replicas(settings.get("database.replicas"))
        assert not problems, "database.replicas is validated before this is called"
        return cls(
            replicas=tuple(replicas),
            max_lag=float(settings.get("database.max_lag")),
            read_your_writes=float(settings.get("database.read_your_writes")),
            check_interval=float(settings.get("database.replica_check_interval")),
        )


def parse_replicas(value: object) -> tuple[list[ReplicaSettings], list[str]]:
    """The replicas ``value`` (the setting) describes, and what is wrong with it (never showing a value)."""
    if value is None:
        return [], []
    if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
        return [], ["database.replicas: expected a list of replicas, each a URL or a table {url, weight, name}"]
    replicas: list[ReplicaSettings] = []
    problems: list[str] = []
    servers: dict[tuple[str | None, int, str | None], int] = {}
    for index, entry in enumerate(value):
        replica = _parse_entry(f"database.replicas[{index}]", entry, problems)
        if replica is None:
            continue
        server = (replica.url.host, replica.url.port or 5432, replica.url.database)
        if server in servers:  # listed twice, it would take two shares of the reads under two names
            problems.append(
                f"database.replicas[{index}].url: the same database as database.replicas[{servers[server]}]"
            )
            continue
        servers[server] = index
        replicas.append(replica)
    names = [replica.name for replica in replicas]
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append(f"database.replicas: two replicas are named {name!r}; give each a distinct name")
    return replicas, problems


def _parse_entry(where: str, entry: object, problems: list[str]) -> ReplicaSettings | None:
    known_problems = len(problems)
    fields: dict[str, Any]
    if isinstance(entry, str):
        fields = {"url": entry}
    elif isinstance(entry, Mapping):
        fields = {str(key).lower(): item for key, item in entry.items()}
        unknown = sorted(set(fields) - _ENTRY_KEYS)
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(unknown)}; a replica has url, weight and name")
    else:
        problems.append(f"{where}: expected a URL or a table {{url, weight, name}}")
        return None
    url = parse_async_url(fields.get("url"))
    if url is None or url.get_backend_name() != "postgresql":
        problems.append(f"{where}.url: {_URL_EXPECTED}")
        url = None
    weight = fields.get("weight", 1)
    # Compared, never converted first: NaN and infinity fail, and so does an int no float can hold.
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= _MAX_WEIGHT:
        problems.append(f"{where}.weight: expected a number above 0, at most {_MAX_WEIGHT}")
    name = fields.get("name")
    # Printable: the name is a metric label and a log field (a newline or a lone surrogate would break them).
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= _NAME_LENGTH or not name.isprintable()):
        problems.append(f"{where}.name: expected a string of 1 to {_NAME_LENGTH} printable characters")
    if url is None or len(problems) > known_problems:
        return None
    return ReplicaSettings(name=name or f"{url.host}:{url.port or 5432}", url=url, weight=float(weight))


class _ReplicasSetting(Validator):  # type: ignore[misc]  # dynaconf is untyped
    """``database.replicas``: each entry checked, every problem named by its position, no value shown."""

    def validate(self, settings: Any, *args: Any, **kwargs: Any) -> None:
        super().validate(settings, *args, **kwargs)  # applies the default
        replicas, problems = parse_replicas(settings.get("database.replicas"))
        primary = parse_async_url(settings.get("database.url"))
        if replicas and primary is not None and primary.get_backend_name() != "postgresql":
            problems.append("database.replicas: replicas need a PostgreSQL primary (database.url)")
        if problems:
            message = "; ".join(problems)
            raise ValidationError(message, details=[(self, message)])


def replica_validators() -> list[Validator]:
    """Validators of the replica settings, each with its default (no replicas: everything reads the primary)."""
    number = (int, float)
    return [
        Validator("database.max_lag", default=5.0, is_type_of=number, gt=0),
        Validator("database.read_your_writes", default=5.0, is_type_of=number, gte=0),
        Validator("database.replica_check_interval", default=1.0, is_type_of=number, gt=0),
        # After database.url's own validator, which applies its default first.
        _ReplicasSetting("database.replicas", default=[]),
    ]
