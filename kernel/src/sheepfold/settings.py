"""Loading settings with dynaconf and validating them with every plugin's validators."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dynaconf import Dynaconf, ValidationError, Validator

from sheepfold.errors import SettingsError

ENVVAR_PREFIX = "SHEEPFOLD"
SETTINGS_FILE_VARIABLE = "SHEEPFOLD_SETTINGS_FILE"
ENVIRONMENT_VARIABLE = "SHEEPFOLD_ENV"

_SECRET_KEY = re.compile(r"secret|password|token|key|dsn", re.IGNORECASE)
_REDACTED = "<redacted>"
_MESSAGES = {
    "operations": "{name}: expected {operation} {op_value}, got {value!r}",
    "condition": "{name}: expected a value passing {function}, got {value!r}",
}


def is_secret(key: str) -> bool:
    """True for keys whose values must never be printed (secret, password, token, key, dsn)."""
    return bool(_SECRET_KEY.search(key))


def load_settings(settings: Mapping[str, Any] | Dynaconf | None = None) -> Dynaconf:
    """Settings for one app.

    Sources, later ones winning: each plugin's validator defaults (applied at
    validation), the file named by ``SHEEPFOLD_SETTINGS_FILE`` (else
    ``settings.toml`` in the working directory, if present) in the environment
    named by ``SHEEPFOLD_ENV`` (default ``development``), ``SHEEPFOLD_*``
    environment variables (``SHEEPFOLD_CACHE__BACKEND=redis``), then the
    mapping given here. A ``Dynaconf`` object is used as it is.
    """
    if isinstance(settings, Dynaconf):
        return settings
    path = os.environ.get(SETTINGS_FILE_VARIABLE) or "settings.toml"
    files = [path] if Path(path).is_file() else []
    loaded = Dynaconf(
        envvar_prefix=ENVVAR_PREFIX,
        env_switcher=ENVIRONMENT_VARIABLE,
        environments=True,
        settings_files=files,
        merge_enabled=True,
        load_dotenv=False,
    )
    for key, value in (settings or {}).items():
        loaded.set(key, value, merge=True)
    return loaded


def validate_settings(settings: Dynaconf, validators: Iterable[Validator]) -> None:
    """Check ``settings`` against ``validators``, applying their defaults.

    Raises :class:`SettingsError` listing every failure at once; each names
    its key and what was expected, and never prints the value of a key that
    :func:`is_secret`.
    """
    collected = list(validators)
    for validator in collected:
        _phrase_messages(validator)
    settings.validators.register(*collected)
    try:
        settings.validators.validate_all()
    except ValidationError as error:
        problems = [message for _validator, message in error.details] or [error.message]
        raise SettingsError(problems) from None


def _phrase_messages(validator: Validator) -> None:
    for inner in getattr(validator, "validators", None) or ():
        _phrase_messages(inner)
    secret = any(is_secret(name) for name in validator.names)
    for kind, message in _MESSAGES.items():
        if validator.messages.get(kind) == Validator.default_messages[kind]:
            validator.messages[kind] = message
        if secret:
            validator.messages[kind] = (
                validator.messages[kind].replace("{value!r}", _REDACTED).replace("{value}", _REDACTED)
            )
