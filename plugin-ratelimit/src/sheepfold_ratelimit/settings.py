"""The ``[ratelimit]`` settings section: its validators and the policies it defines."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, TypeGuard

from dynaconf import Dynaconf, Validator

from sheepfold import NameSetting, SettingsError
from sheepfold.ratelimit import RateLimitPolicy

#: Paths that are never limited unless a rule names them: probes and scrapes must not be refused.
DEFAULT_EXEMPT_PATHS = ["/health", "/health/*", "/metrics", "/-/*", "/docs", "/docs/*", "/openapi.json"]


def _is_list_of_str(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_list_of_networks(value: object) -> bool:
    if not _is_list_of_str(value):
        return False
    try:
        for item in value:
            ipaddress.ip_network(item, strict=False)
    except ValueError:
        return False
    return True


def _is_str_mapping(value: object) -> bool:
    return isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values())


def validators() -> list[Validator]:
    """Every key of ``[ratelimit]`` with its default, so an empty settings file works."""
    return [
        NameSetting("ratelimit.policies", shape="keys", default={}),
        NameSetting("ratelimit.default_policy", shape="value", default="standard", is_type_of=str),
        Validator("ratelimit.policies.standard.limit", default="100/minute"),
        Validator("ratelimit.policies.strict.limit", default="10/minute"),
        Validator("ratelimit.expected_instances", default=1, is_type_of=int, gte=1),
        Validator("ratelimit.trusted_proxies", default=[], condition=_is_list_of_networks),
        Validator("ratelimit.ipv6_prefix", default=64, is_type_of=int, gte=1, lte=128),
        Validator("ratelimit.exempt_paths", default=DEFAULT_EXEMPT_PATHS, condition=_is_list_of_str),
        NameSetting("ratelimit.routes", shape="values", default={}, condition=_is_str_mapping),
        Validator("ratelimit.headers", default=True, is_type_of=bool),
    ]


def policies_from(settings: Dynaconf) -> dict[str, RateLimitPolicy]:
    """Every policy under ``ratelimit.policies``; one :class:`SettingsError` lists every bad one."""
    sections: Mapping[str, Any] = settings.get("ratelimit.policies") or {}
    expected = settings.get("ratelimit.expected_instances")
    policies: dict[str, RateLimitPolicy] = {}
    problems: list[str] = []
    for name, section in sections.items():
        if not isinstance(section, Mapping):
            problems.append(f"ratelimit.policies.{name}: expected a table with a limit, got {section!r}")
            continue
        try:
            policies[str(name)] = RateLimitPolicy.from_settings(str(name), section, expected_instances=expected)
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise SettingsError(problems)
    return policies
