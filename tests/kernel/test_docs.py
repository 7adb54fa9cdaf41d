"""The hooks reference documents every hookspec (datasette enforces the same)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sheepfold.plugins import PluginHost

HOOKS_DOC = Path(__file__).parents[2] / "docs" / "hooks.md"


def hookspec_names() -> list[str]:
    return sorted(name for name in vars(PluginHost().manager.hook) if name.startswith("sheepfold_"))


def documented_hooks() -> set[str]:
    return set(re.findall(r"^## (sheepfold_\w+)$", HOOKS_DOC.read_text(), flags=re.MULTILINE))


@pytest.mark.parametrize("hook", hookspec_names())
def test_every_hookspec_has_an_entry_in_the_hooks_reference(hook):
    assert hook in documented_hooks(), f"{hook} is missing from docs/hooks.md"


@pytest.mark.parametrize("hook", hookspec_names())
def test_every_hookspec_has_a_docstring_saying_sync_or_awaitable(hook):
    doc = getattr(PluginHost().manager.hook, hook).spec.function.__doc__ or ""
    assert "Called" in doc, f"{hook}'s docstring must say when it is called"
    assert ("awaitable" in doc) or ("Synchronous" in doc), f"{hook}'s docstring must say sync or awaitable"


def test_the_reference_documents_no_hook_that_does_not_exist():
    assert documented_hooks() <= set(hookspec_names())
