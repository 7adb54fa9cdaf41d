"""The one error hierarchy of sheepfold.

Every error the kernel raises on purpose is a :class:`SheepfoldError`, so an
operator's tooling can tell "sheepfold refused" from "something broke".
"""

from __future__ import annotations


class SheepfoldError(Exception):
    """Base class of every error sheepfold raises on purpose."""


class SettingsError(SheepfoldError):
    """Settings are missing or invalid.

    ``problems`` holds one line per bad key, each naming the key and what was
    expected; values of secret-looking keys are never included.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid settings ({len(self.problems)} problem(s)):\n{lines}")


class PluginError(SheepfoldError):
    """A plugin could not be loaded, or one of its hooks failed at start-up.

    ``plugin`` and ``hook`` name the culprit where they are known.
    """

    def __init__(self, message: str, *, plugin: str | None = None, hook: str | None = None) -> None:
        self.plugin = plugin
        self.hook = hook
        where = ", ".join(
            part for part in (f"plugin {plugin!r}" if plugin else "", f"hook {hook}" if hook else "") if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class BackendUnavailable(SheepfoldError):
    """A backend (Redis, a database) did not answer in time or refused the call.

    Adapters raise it (or let ``OSError``/``TimeoutError`` through); the
    :class:`~sheepfold.fallback.FallbackSwitch` treats it as "backend down" and
    serves the call from the fallback instead. ``timed_out`` says the backend
    did not answer in time (as opposed to refusing the connection): the switch
    confirms such a failure with a probe, and discounts it while this
    instance's own event loop is late.
    """

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out
