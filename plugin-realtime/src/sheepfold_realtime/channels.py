"""Channels and who may join them: the built-in rules and those plugins declare."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sheepfold import Identity, Platform
from sheepfold.errors import PluginError

#: ``authorize(identity, channel) -> bool``: whether ``identity`` may join ``channel`` (a :class:`ChannelRule`'s check).
Authorize = Callable[[Identity, str], bool]
"""``authorize(identity, channel) -> bool``: synchronous, no I/O; True lets the socket join."""

#: Printable, no spaces or quotes, at most 200 characters: channel names travel in JSON and Redis names.
#: No lone surrogates either (JSON's "\ud800" decodes to one): such a name cannot be encoded to UTF-8.
_CHANNEL = re.compile(r"[^\s\"\\\x00-\x1f\x7f\ud800-\udfff]{1,200}")


def valid_channel(channel: object) -> bool:
    """True for a string usable as a channel name."""
    return isinstance(channel, str) and _CHANNEL.fullmatch(channel) is not None and not channel.startswith("-")


@dataclass(frozen=True)
class ChannelRule:
    """Who may join the channel ``name`` and every channel ``name:<anything>``.

    Plugins return these from ``sheepfold_realtime_channels``; ``authorize``
    is called at every subscription with the socket's identity and the full
    channel name, and no subscription is granted unless it returns True.
    """

    name: str
    authorize: Authorize
    description: str = ""


#: The permission (``platform.allowed``) to join ``admin``, publish over HTTP and list sockets.
REALTIME_ADMIN = "realtime.admin"


def _user_channel(identity: Identity, channel: str) -> bool:
    return identity.subject is not None and channel == f"user:{identity.subject}"


def builtin_rules(platform: Platform) -> list[ChannelRule]:
    """``user:<subject>`` (that identity only), ``admin`` (``realtime.admin`` allowed), ``platform`` (everyone)."""
    return [
        ChannelRule("user", _user_channel, "an identity's own channel: user:<subject>, only its sockets"),
        ChannelRule(
            "admin",
            lambda identity, channel: channel == "admin" and platform.allowed(identity, REALTIME_ADMIN),
            f"identities allowed {REALTIME_ADMIN!r} (by default the admin role)",
        ),
        ChannelRule("platform", lambda _identity, channel: channel == "platform", "every socket"),
    ]


class ChannelRules:
    """The rules of one app, by name; a channel's rule is the one named by the text before its first ``:``."""

    def __init__(self, rules: Iterable[tuple[str, ChannelRule]]) -> None:
        self._rules: dict[str, ChannelRule] = {}
        for plugin, rule in rules:
            if not isinstance(rule, ChannelRule) or not valid_channel(rule.name) or ":" in rule.name:
                raise PluginError(f"not a ChannelRule with a plain name: {rule!r}", plugin=plugin)
            if rule.name in self._rules:
                raise PluginError(f"a rule for channel {rule.name!r} already exists", plugin=plugin)
            self._rules[rule.name] = rule

    def rule_for(self, channel: str) -> ChannelRule | None:
        return self._rules.get(channel.split(":", 1)[0])

    def allows(self, identity: Identity, channel: str) -> bool:
        """True only when ``channel`` is valid, has a rule, and the rule lets ``identity`` join."""
        if not valid_channel(channel):
            return False
        rule = self.rule_for(channel)
        return rule is not None and rule.authorize(identity, channel) is True

    def describe(self) -> list[dict[str, str]]:
        return [{"name": rule.name, "description": rule.description} for rule in self._rules.values()]
