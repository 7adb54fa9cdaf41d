"""The console's settings (``[console]``), validated at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dynaconf import Validator

number = (int, float)


def validators() -> list[Validator]:
    return [
        Validator("console.refresh_interval", default=2.0, is_type_of=number, gte=0.2, lte=60),
        Validator("console.sign_in_ttl", default=8 * 3600, is_type_of=number, gte=60, lte=30 * 86400),
        Validator("console.cookie_secure", default=True, is_type_of=bool),
        Validator("console.root_redirect", default=True, is_type_of=bool),
        Validator("console.failed_jobs", default=20, is_type_of=int, gte=1, lte=200),
    ]


@dataclass(frozen=True)
class ConsoleSettings:
    """``console.*``: see the operations guide, "The operator console"."""

    refresh_interval: float = 2.0
    sign_in_ttl: float = 8 * 3600
    cookie_secure: bool = True
    root_redirect: bool = True
    failed_jobs: int = 20

    @classmethod
    def from_settings(cls, settings: Any) -> ConsoleSettings:
        return cls(
            refresh_interval=float(settings.get("console.refresh_interval")),
            sign_in_ttl=float(settings.get("console.sign_in_ttl")),
            cookie_secure=bool(settings.get("console.cookie_secure")),
            root_redirect=bool(settings.get("console.root_redirect")),
            failed_jobs=int(settings.get("console.failed_jobs")),
        )
