"""A plugin's own part of the key and tag spaces that every plugin shares through State and Cache."""

from __future__ import annotations

import re
from dataclasses import dataclass

# No ":" (it separates the plugin from its names, so "a" + "b:c" never meets "a:b" + "c"), no
# braces (a Redis Cluster hash tag), no spaces: what a distribution or entry-point name looks like.
_PLUGIN_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class Namespace:
    """Keys and tags that belong to one plugin: ``key("visits")`` is ``"example:visits"``.

    State keys and cache keys and tags are shared by every plugin of an app
    (and by every app on the same Redis prefix); building them here keeps two
    plugins from meeting on ``"visits"``. Pure string work: touches nothing.
    Get one with :meth:`sheepfold.Platform.namespace`.
    """

    plugin: str

    def __post_init__(self) -> None:
        if not _PLUGIN_NAME.fullmatch(self.plugin):
            raise ValueError(
                f"a namespace is a plugin name: lower-case letters, digits, '_', '.', '-'; not {self.plugin!r}"
            )

    def key(self, *parts: str | int) -> str:
        """A State or Cache key of this plugin: ``key("greeting", "ada")`` is ``"example:greeting:ada"``.

        ValueError for no parts: a key of the plugin as a whole would collide with every other.
        """
        return self._join(parts)

    def tag(self, *parts: str | int) -> str:
        """A cache tag of this plugin: ``tag("greetings")`` is ``"example:greetings"``; ValueError for no parts."""
        return self._join(parts)

    def _join(self, parts: tuple[str | int, ...]) -> str:
        if not parts:
            raise ValueError("name at least one part")
        return ":".join((self.plugin, *map(str, parts)))
