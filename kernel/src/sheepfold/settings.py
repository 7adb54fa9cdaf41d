"""Loading settings with dynaconf and validating them with every plugin's validators."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from dynaconf import Dynaconf, ValidationError, Validator

from sheepfold.errors import SettingsError

ENVVAR_PREFIX = "SHEEPFOLD"
SETTINGS_FILE_VARIABLE = "SHEEPFOLD_SETTINGS_FILE"
ENVIRONMENT_VARIABLE = "SHEEPFOLD_ENV"
#: The one environment with conveniences that are unsafe elsewhere (generated secrets, an open admin surface).
DEVELOPMENT = "development"

_SECRET_KEY = re.compile(r"secret|password|token|key|dsn", re.IGNORECASE)
#: What a secret's value is shown as.
REDACTED = "<redacted>"
_MESSAGES = {
    "operations": "{name}: expected {operation} {op_value}, got {value!r}",
    "condition": "{name}: expected a value passing {function}, got {value!r}",
}


def is_secret(key: str) -> bool:
    """True for keys whose values must never be printed (secret, password, token, key, dsn)."""
    return bool(_SECRET_KEY.search(key))


def redact_secrets(value: Any) -> Any:
    """``value`` with what any mapping in it holds under a key that :func:`is_secret` replaced by ``<redacted>``.

    Mappings, lists and tuples are copied as they are walked (into dicts,
    lists and tuples); anything else is returned as it is.
    """
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and is_secret(key) else redact_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, tuple):
        return tuple(redact_secrets(item) for item in value)
    if isinstance(value, list):
        return [redact_secrets(item) for item in value]
    return value


def is_development(settings: Any) -> bool:
    """True when ``settings`` are those of the ``development`` environment (``SHEEPFOLD_ENV``)."""
    return str(getattr(settings, "current_env", "") or "").lower() == DEVELOPMENT


def url_parts(value: object) -> SplitResult | None:
    """The parts of a URL setting, or None when ``value`` is not text ``urlsplit`` reads with a valid port.

    Never raises, so a validator's ``condition`` can call it on anything a
    settings file or an environment variable gives: ``urlsplit`` raises on
    ``redis://:pw@[::1/0``, and reading ``.port`` on a port that is no number
    in 0-65535. The caller judges the scheme and host.
    """
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises ValueError for a port that is no number in 0-65535
    except ValueError:
        return None
    return parts


class NameSetting(Validator):  # type: ignore[misc]  # dynaconf is untyped
    """A validator for a setting that names things; :func:`normalise_names` lower-cases the names.

    Names (of policies, queues, plugins) must mean the same whether they come
    from a settings file, an environment variable (dynaconf keeps its upper
    case: ``SHEEPFOLD_JOBS__QUEUES__AUDIT__CONCURRENCY`` is ``AUDIT``) or
    ``create_app(settings=...)``. ``shape`` says where the names are:
    ``"keys"`` (a table keyed by names, each entry a table of fields, whose
    keys are lower-cased too: ``ratelimit.policies``, ``jobs.queues``),
    ``"values"`` (a table whose values are names: ``ratelimit.routes``) or
    ``"value"`` (a name, or a list of names). Other arguments are
    :class:`~dynaconf.Validator`'s.
    """

    SHAPES = ("keys", "values", "value")

    def __init__(self, name: str, *, shape: str, **kwargs: Any) -> None:
        if shape not in self.SHAPES:
            raise ValueError(f"shape must be one of {self.SHAPES}, got {shape!r}")
        super().__init__(name, **kwargs)
        self.shape = shape


def normalise_names(settings: Dynaconf, validators: Iterable[Validator]) -> None:
    """Lower-case, in place, the names in every setting that a :class:`NameSetting` declares.

    Called by ``create_app`` before validation. Entries that differ only in
    case are merged, the later source winning field by field (environment
    variables come after files, so they win).
    """
    for validator in validators:
        if not isinstance(validator, NameSetting):
            continue
        for name in validator.names:
            value = settings.get(name)
            if validator.shape == "keys" and isinstance(value, MutableMapping):
                _replace_items(value, _lowered_table(value))
            elif validator.shape == "values" and isinstance(value, MutableMapping):
                _replace_items(value, {key: _lowered(item) for key, item in value.items()})
            elif validator.shape == "value" and isinstance(value, list):
                value[:] = _lowered(value)  # in place: set() would merge the lists
            elif validator.shape == "value" and isinstance(value, str):
                settings.set(name, value.lower())


def _lowered(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [item.lower() if isinstance(item, str) else item for item in value]
    return value


def _lowered_table(table: Mapping[Any, Any]) -> dict[Any, Any]:
    merged: dict[Any, Any] = {}
    for key, entry in table.items():
        name = key.lower() if isinstance(key, str) else key
        if isinstance(entry, Mapping):
            fields = merged.setdefault(name, {})
            if isinstance(fields, dict):
                fields.update((f.lower() if isinstance(f, str) else f, v) for f, v in entry.items())
                continue
        merged[name] = entry
    return merged


def _replace_items(target: MutableMapping[Any, Any], items: Mapping[Any, Any]) -> None:
    # In place: dynaconf's set() merges nested keys case-insensitively, so it cannot drop an upper-case key.
    # The entries become nodes of the same kind as ``target`` (dynaconf's DataDict, bound to the same
    # settings), so that dotted look-ups and validator defaults see into them.
    meta = getattr(target, "__meta__", None)
    node: Any = type(target)
    rebuilt = node(items, box_settings=meta.core) if meta is not None else dict(items)
    for key in list(target):
        del target[key]
    target.update(rebuilt)


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
    problems = list(_unusable_values(settings.as_dict()))
    # One by one, as dynaconf's validate_all, but a value of a shape a check cannot take (a list where a table
    # goes, a string where a condition wants a table) is that key's problem, not a traceback naming no key.
    for validator in settings.validators:
        try:
            validator.validate(settings)
        except ValidationError as error:
            problems += [message for _validator, message in error.details] or [error.message]
        except (TypeError, ValueError, OverflowError) as error:  # never its message: it may quote a secret
            names = ", ".join(getattr(validator, "names", ()) or ("?",))
            problems.append(f"{names}: a value of a shape this setting cannot take ({type(error).__name__})")
    problems += _booleans_for_numbers(settings, collected)
    if problems:
        raise SettingsError(problems)


def _booleans_for_numbers(settings: Dynaconf, validators: Iterable[Validator]) -> Iterable[str]:
    """A problem for each ``true``/``false`` given where a validator expects a number: ``is_type_of=int``
    takes one (``bool`` is an ``int`` to Python), and ``failed_jobs = true`` would mean 1."""
    for validator in validators:
        expected = validator.operations.get("is_type_of")
        types = expected if isinstance(expected, tuple) else (expected,)
        if bool in types or not any(kind in (int, float) for kind in types):
            continue
        for name in validator.names:
            try:
                value = settings.get(name)
            except (TypeError, ValueError):  # a section of the wrong shape: reported by the loop above
                continue
            if isinstance(value, bool):
                yield f"{name}: expected a number, got {'true' if value else 'false'}"


def _unusable_values(value: Any, key: str = "") -> Iterable[str]:
    """A problem for each value in ``value`` that no setting can use, whatever its checks say.

    A string UTF-8 cannot encode: a lone surrogate, which Python gives for
    the bytes of an environment variable that are not UTF-8, and which every
    later use of the string would raise on. An integer too large for a float
    (``10**400``): every duration, rate and percentage is used as one.
    """
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            yield f"{key}: expected UTF-8 text (an environment variable holding bytes that are not UTF-8?)"
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            yield f"{key}: expected a number of ordinary size, got an integer too large for a float"
    elif isinstance(value, Mapping):
        for name, item in value.items():
            yield from _unusable_values(item, f"{key}.{name}".lower().lstrip("."))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _unusable_values(item, f"{key}[{index}]")


def _phrase_messages(validator: Validator) -> None:
    for inner in getattr(validator, "validators", None) or ():
        _phrase_messages(inner)
    secret = any(is_secret(name) for name in validator.names)
    for kind, message in _MESSAGES.items():
        if validator.messages.get(kind) == Validator.default_messages[kind]:
            validator.messages[kind] = message
        if secret:
            validator.messages[kind] = (
                validator.messages[kind].replace("{value!r}", REDACTED).replace("{value}", REDACTED)
            )
