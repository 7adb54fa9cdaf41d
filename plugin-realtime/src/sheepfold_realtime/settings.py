"""The ``[realtime]`` settings section: validators with defaults, and the parsed :class:`RealtimeSettings`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dynaconf import Validator

#: What happens when a socket's backlog is full and another message arrives for it.
DROP_POLICIES = ("drop_oldest", "drop_newest", "close")


def _is_list_of_str(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_path(value: object) -> bool:
    # A plain path: BlackSheep reads "{", ":" and "*" in a route as parameters, and a regex from them.
    return isinstance(value, str) and re.fullmatch(r"/[A-Za-z0-9._~/-]*", value) is not None


def settings_validators() -> list[Validator]:
    """Validators of ``[realtime]``, each with its default, so an empty settings file works."""
    seconds = (int, float)
    return [
        Validator(
            "realtime.path",
            default="/ws",
            condition=_is_path,
            messages={"condition": "realtime.path: expected a path such as /ws (letters, digits, / - . _ ~)"},
        ),
        Validator("realtime.allowed_origins", default=[], condition=_is_list_of_str),
        Validator("realtime.allow_missing_origin", default=True, is_type_of=bool),
        Validator("realtime.backlog", default=256, is_type_of=int, gte=1),
        Validator("realtime.drop_policy", default="drop_oldest", is_in=DROP_POLICIES),
        Validator("realtime.heartbeat_interval", default=20.0, is_type_of=seconds, gt=0),
        Validator("realtime.heartbeat_timeout", default=60.0, is_type_of=seconds, gt=0),
        Validator("realtime.close_timeout", default=2.0, is_type_of=seconds, gt=0),
        Validator("realtime.max_subscriptions", default=64, is_type_of=int, gte=1),
        Validator("realtime.max_client_message", default=4096, is_type_of=int, gte=64),
        Validator("realtime.max_event_size", default=65_536, is_type_of=int, gte=64),
    ]


@dataclass(frozen=True)
class RealtimeSettings:
    """How ``/ws`` admits sockets and treats slow and silent ones.

    ``allowed_origins`` are full origins (``https://app.example.com``) allowed
    besides the server's own; ``"*"`` allows any. ``backlog`` bounds the
    messages queued for one socket; when it is full, ``drop_policy`` drops the
    oldest or the newest message (and the client gets ``resync``) or closes
    the socket. The server sends ``heartbeat`` every ``heartbeat_interval``
    seconds and closes a socket it has heard nothing from for
    ``heartbeat_timeout`` seconds. Who a socket is, and what it may join,
    are the kernel's identity and permissions (``platform.identify``,
    ``platform.allowed``).
    """

    path: str = "/ws"
    allowed_origins: tuple[str, ...] = ()
    allow_missing_origin: bool = True
    backlog: int = 256
    drop_policy: str = "drop_oldest"
    heartbeat_interval: float = 20.0
    heartbeat_timeout: float = 60.0
    close_timeout: float = 2.0
    max_subscriptions: int = 64
    max_client_message: int = 4096
    max_event_size: int = 65_536

    @classmethod
    def from_settings(cls, settings: Any) -> RealtimeSettings:
        """Read validated settings (a Dynaconf object)."""
        return cls(
            path=settings.get("realtime.path"),
            allowed_origins=tuple(origin.rstrip("/").lower() for origin in settings.get("realtime.allowed_origins")),
            allow_missing_origin=settings.get("realtime.allow_missing_origin"),
            backlog=settings.get("realtime.backlog"),
            drop_policy=settings.get("realtime.drop_policy"),
            heartbeat_interval=float(settings.get("realtime.heartbeat_interval")),
            heartbeat_timeout=float(settings.get("realtime.heartbeat_timeout")),
            close_timeout=float(settings.get("realtime.close_timeout")),
            max_subscriptions=settings.get("realtime.max_subscriptions"),
            max_client_message=settings.get("realtime.max_client_message"),
            max_event_size=settings.get("realtime.max_event_size"),
        )
