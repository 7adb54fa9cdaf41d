"""The ``[sessions]`` settings section: validators with defaults, and the parsed :class:`SessionSettings`."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from dynaconf import Validator

from sheepfold.errors import SettingsError

logger = logging.getLogger("sheepfold.sessions")

#: The one environment where a missing secret is replaced by a generated one.
DEVELOPMENT = "development"
#: A secret shorter than this is refused: HMAC keys of a few bytes can be brute-forced.
MIN_SECRET_LENGTH = 32


def _is_list_of_str(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def settings_validators() -> list[Validator]:
    """Validators of ``[sessions]`` (the plugin's keys; ``backend``/``fallback``/``max_entries`` are the kernel's)."""
    seconds = (int, float)
    return [
        Validator("sessions.secret", default="", is_type_of=str),
        Validator("sessions.previous_secrets", default=[], condition=_is_list_of_str),
        Validator("sessions.cookie_name", default="session", is_type_of=str, len_min=1),
        Validator("sessions.cookie_secure", default=True, is_type_of=bool),
        Validator("sessions.idle_timeout", default=1800, is_type_of=seconds, gt=0),
        Validator("sessions.absolute_timeout", default=28800, is_type_of=seconds, gt=0),
        Validator("sessions.user_key", default="user", is_type_of=str, len_min=1),
        Validator("sessions.roles_key", default="roles", is_type_of=str, len_min=1),
        Validator("sessions.privilege_keys", default=["roles"], condition=_is_list_of_str),
        Validator("sessions.near_cache_entries", default=10_000, is_type_of=int, gte=0),
        Validator("sessions.near_cache_max_age", default=600, is_type_of=seconds, gt=0),
    ]


@dataclass(frozen=True)
class SessionSettings:
    """How sessions are signed, named, timed out and tied to users.

    ``secret`` signs new cookies; ``previous_secrets`` still verify old ones
    (rotation: move the old secret there, drop it after ``absolute_timeout``).
    ``cookie_name`` gets the ``__Host-`` prefix when ``cookie_secure``.
    ``user_key`` is the session value naming the user (the per-user index is
    kept by it; it is the identity's subject); ``roles_key`` the session
    value listing the user's roles (the identity's roles). A change of
    either, or of any of ``privilege_keys``, regenerates the session id.
    ``near_cache_entries`` and ``near_cache_max_age`` bound the near cache of
    sessions read recently on this instance, served while Redis is down (0
    entries: none).
    """

    secret: str
    previous_secrets: tuple[str, ...] = ()
    cookie_name: str = "session"
    cookie_secure: bool = True
    idle_timeout: float = 1800.0
    absolute_timeout: float = 28800.0
    user_key: str = "user"
    roles_key: str = "roles"
    privilege_keys: tuple[str, ...] = ("roles",)
    near_cache_entries: int = 10_000
    near_cache_max_age: float = 600.0

    @property
    def cookie(self) -> str:
        """The full name: ``__Host-`` prefixed when secure (host-only, path /, Secure: no subdomain may set it)."""
        return f"__Host-{self.cookie_name}" if self.cookie_secure else self.cookie_name

    @classmethod
    def from_settings(cls, settings: Any) -> SessionSettings:
        """Read validated settings; :class:`SettingsError` when no secret is set outside development.

        In the ``development`` environment a missing secret is replaced by a
        random one (with a warning): sessions then end when the process
        restarts and are not shared between processes.
        """
        secret = settings.get("sessions.secret") or ""
        environment = str(getattr(settings, "current_env", "") or "").lower()
        problems = []
        if not secret:
            if environment != DEVELOPMENT:
                problems.append(
                    f"sessions.secret: required outside development (environment {environment!r}); set it to "
                    f"{MIN_SECRET_LENGTH}+ random characters, e.g. SHEEPFOLD_SESSIONS__SECRET=$(openssl rand -hex 32)"
                )
            else:
                secret = secrets.token_urlsafe(32)
                logger.warning(
                    "sessions.secret is not set: using a generated one; sessions end on restart and are not "
                    "shared between processes (set sessions.secret outside development)"
                )
        previous = tuple(settings.get("sessions.previous_secrets") or ())
        for name, value in [("sessions.secret", secret), *(("sessions.previous_secrets", p) for p in previous)]:
            if value and len(value) < MIN_SECRET_LENGTH:
                problems.append(f"{name}: expected at least {MIN_SECRET_LENGTH} characters")
        if settings.get("sessions.absolute_timeout") < settings.get("sessions.idle_timeout"):
            problems.append("sessions.absolute_timeout: expected at least sessions.idle_timeout")
        if problems:
            raise SettingsError(problems)
        return cls(
            secret=secret,
            previous_secrets=previous,
            cookie_name=settings.get("sessions.cookie_name"),
            cookie_secure=settings.get("sessions.cookie_secure"),
            idle_timeout=float(settings.get("sessions.idle_timeout")),
            absolute_timeout=float(settings.get("sessions.absolute_timeout")),
            user_key=settings.get("sessions.user_key"),
            roles_key=settings.get("sessions.roles_key"),
            privilege_keys=tuple(settings.get("sessions.privilege_keys")),
            near_cache_entries=settings.get("sessions.near_cache_entries"),
            near_cache_max_age=float(settings.get("sessions.near_cache_max_age")),
        )
