"""Small plugins the kernel tests register explicitly (never installed)."""

from __future__ import annotations

from types import SimpleNamespace

from sheepfold import hookimpl


def plugin(name: str, **hooks) -> SimpleNamespace:
    """A plugin object named ``name`` whose hooks are the given functions, marked as implementations."""
    return SimpleNamespace(name=name, **{hook: hookimpl(function) for hook, function in hooks.items()})
