"""The ``[redis]`` settings section: validators with defaults, and the parsed :class:`RedisSettings`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dynaconf import Validator

from sheepfold import url_parts
from sheepfold.errors import SettingsError

URL_SCHEMES = ("redis", "rediss", "unix")


def _is_url(value: object) -> bool:
    parts = url_parts(value)
    return parts is not None and parts.scheme in URL_SCHEMES


def _is_host_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and _split_host(item) for item in value)


def _split_host(address: str) -> tuple[str, int] | None:
    host, _, port = address.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


def settings_validators() -> list[Validator]:
    """Validators of ``[redis]``, each with its default, so an empty settings file works."""
    number = (int, float)
    return [
        Validator(
            "redis.url",
            default="redis://127.0.0.1:6379/0",
            condition=_is_url,
            messages={"condition": "redis.url: expected a redis://, rediss:// or unix:// URL"},
        ),
        Validator(
            "redis.sentinel.hosts",
            default=[],
            condition=_is_host_list,
            messages={"condition": 'redis.sentinel.hosts: expected a list of "host:port" strings'},
        ),
        Validator("redis.sentinel.service_name", default="mymaster", is_type_of=str, len_min=1),
        Validator("redis.sentinel.db", default=0, is_type_of=int, gte=0),
        Validator(
            "redis.cluster.nodes",
            default=[],
            condition=_is_host_list,
            messages={"condition": 'redis.cluster.nodes: expected a list of "host:port" strings'},
        ),
        Validator("redis.pool_size", default=20, is_type_of=int, gte=1),
        Validator("redis.pool_timeout", default=0.5, is_type_of=number, gt=0),
        Validator("redis.connect_timeout", default=0.25, is_type_of=number, gt=0),
        Validator("redis.command_timeout", default=0.25, is_type_of=number, gt=0),
        Validator("redis.retry.attempts", default=1, is_type_of=int, gte=0),
        Validator("redis.retry.backoff_base", default=0.01, is_type_of=number, gte=0),
        Validator("redis.retry.backoff_cap", default=0.1, is_type_of=number, gte=0),
        Validator("redis.health_check_interval", default=5.0, is_type_of=number, gte=0),
        Validator("redis.prefix", default="", is_type_of=str),
        Validator("redis.metrics_interval", default=5.0, is_type_of=number, gte=0),
        Validator("redis.multiplex", default=True, is_type_of=bool),
        Validator("redis.session_writes.wait_replicas", default=0, is_type_of=int, gte=0),
        Validator("redis.session_writes.wait_timeout", default=0.05, is_type_of=number, gt=0),
    ]


@dataclass(frozen=True)
class RedisSettings:
    """Where Redis is and how patiently to talk to it; every timeout is explicit.

    Exactly one of three topologies is used: ``cluster_nodes`` when set, else
    ``sentinel_hosts`` when set, else ``url`` (``redis://``, ``rediss://`` or
    ``unix://``). Timeouts are seconds: ``connect_timeout`` bounds opening a
    connection, ``command_timeout`` bounds waiting for a reply (a silent peer),
    ``pool_timeout`` bounds waiting for a free pooled connection. A failed
    connection is retried ``retry_attempts`` times after an exponential backoff
    with jitter (``retry_backoff_base`` doubling up to ``retry_backoff_cap``);
    timeouts are not retried, so a silent Redis costs one ``command_timeout``.
    ``multiplex``: hot single commands share one connection (see
    ``sheepfold_redis.multiplex``); only plain ``redis://`` and ``unix://`` servers.
    ``session_wait_replicas``: after each session write (create, change,
    restore, delete), ``WAIT`` until that many replicas have it, at most
    ``session_wait_timeout`` seconds (which must be below ``command_timeout``);
    0 (the default) waits for none. It narrows what a failover can lose.
    """

    url: str = "redis://127.0.0.1:6379/0"
    sentinel_hosts: tuple[tuple[str, int], ...] = ()
    sentinel_service_name: str = "mymaster"
    sentinel_db: int = 0
    cluster_nodes: tuple[tuple[str, int], ...] = ()
    pool_size: int = 20
    pool_timeout: float = 0.5
    connect_timeout: float = 0.25
    command_timeout: float = 0.25
    retry_attempts: int = 1
    retry_backoff_base: float = 0.01
    retry_backoff_cap: float = 0.1
    health_check_interval: float = 5.0
    prefix: str = ""
    multiplex: bool = True
    session_wait_replicas: int = 0
    session_wait_timeout: float = 0.05

    @property
    def topology(self) -> str:
        """``"cluster"``, ``"sentinel"`` or ``"url"``."""
        if self.cluster_nodes:
            return "cluster"
        if self.sentinel_hosts:
            return "sentinel"
        return "url"

    @classmethod
    def from_settings(cls, settings: Any) -> RedisSettings:
        """Read validated settings (a Dynaconf object); :class:`SettingsError` if both sentinel and cluster are set."""
        sentinel = [_split_host(h) for h in settings.get("redis.sentinel.hosts") or []]
        cluster = [_split_host(h) for h in settings.get("redis.cluster.nodes") or []]
        if sentinel and cluster:
            raise SettingsError(["redis: set either redis.sentinel.hosts or redis.cluster.nodes, not both"])
        wait_timeout = float(settings.get("redis.session_writes.wait_timeout"))
        if wait_timeout >= float(settings.get("redis.command_timeout")):
            raise SettingsError(
                ["redis.session_writes.wait_timeout: must be below redis.command_timeout, which bounds its reply"]
            )
        return cls(
            url=settings.get("redis.url"),
            sentinel_hosts=tuple(h for h in sentinel if h),
            sentinel_service_name=settings.get("redis.sentinel.service_name"),
            sentinel_db=settings.get("redis.sentinel.db"),
            cluster_nodes=tuple(h for h in cluster if h),
            pool_size=settings.get("redis.pool_size"),
            pool_timeout=float(settings.get("redis.pool_timeout")),
            connect_timeout=float(settings.get("redis.connect_timeout")),
            command_timeout=float(settings.get("redis.command_timeout")),
            retry_attempts=settings.get("redis.retry.attempts"),
            retry_backoff_base=float(settings.get("redis.retry.backoff_base")),
            retry_backoff_cap=float(settings.get("redis.retry.backoff_cap")),
            health_check_interval=float(settings.get("redis.health_check_interval")),
            prefix=settings.get("redis.prefix"),
            multiplex=settings.get("redis.multiplex"),
            session_wait_replicas=settings.get("redis.session_writes.wait_replicas"),
            session_wait_timeout=wait_timeout,
        )
