"""Every hook has a test named ``test_hook_<name>`` somewhere in the suite (datasette's rule)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.kernel.test_docs import hookspec_names

ROOT = Path(__file__).parents[2]


def hook_test_names() -> set[str]:
    names: set[str] = set()
    for path in [*ROOT.glob("tests/**/test_*.py"), *ROOT.glob("plugins/*/tests/test_*.py")]:
        names.update(re.findall(r"def (test_hook_\w+)", path.read_text()))
    return names


@pytest.mark.parametrize("hook", hookspec_names())
def test_every_hook_has_a_test(hook):
    prefix = "test_hook_" + hook.removeprefix("sheepfold_")
    assert any(name.startswith(prefix) for name in hook_test_names()), f"no test named {prefix}* for {hook}"
