"""Plugins use only the kernel's public surface, and reach adapters only through the switch's API."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import sheepfold

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = sorted([*ROOT.glob("plugin-*/src/**/*.py"), *ROOT.glob("plugins/*/src/**/*.py")])
#: A switch's own attributes that are the kernel's: a plugin reading or assigning them reaches around it.
SWITCH_INTERNALS = {"backend", "fallback", "set_adapters"}


def public_modules() -> set[str]:
    text = (ROOT / "docs" / "plugin-authors.md").read_text()
    section = text.split("## What plugins may rely on", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"`(sheepfold(?:\.[a-z_]+)+)`", section)) - {"sheepfold.__all__"}


def problems_in(path: Path, modules: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sheepfold":
            for alias in node.names:
                if node.module == "sheepfold":
                    if alias.name not in sheepfold.__all__:
                        found.append(f"{where}: sheepfold.{alias.name} is not in sheepfold.__all__")
                elif node.module not in modules:
                    found.append(f"{where}: {node.module} is not a documented public module")
                elif alias.name.startswith("_"):
                    found.append(f"{where}: {node.module}.{alias.name} is private")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sheepfold.") and alias.name not in modules:
                    found.append(f"{where}: {alias.name} is not a documented public module")
        # ``recovery.backend`` is what a recovery step is handed; ``self.backend`` an object's own.
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in SWITCH_INTERNALS
            and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "recovery"})
        ):
            found.append(f"{where}: .{node.attr} reaches around a switch")
    return found


def test_the_documented_public_modules_exist():
    for module in public_modules():
        importlib.import_module(module)


def test_no_plugin_imports_a_private_kernel_name_or_touches_a_switchs_internals():
    modules = public_modules()
    assert PLUGIN_SOURCES
    problems = [problem for path in PLUGIN_SOURCES for problem in problems_in(path, modules)]
    assert problems == []


@pytest.mark.parametrize(
    "source",
    [
        "from sheepfold.fallback import _timed_out",
        "from sheepfold.builtin.memory import sheepfold_health",
        "from sheepfold import BACKEND_FAILURE_LIST",
        "switch.fallback = wrapped",
        "x = platform.capabilities['jobs'].backend",
    ],
)
def test_the_check_catches_a_reach_into_privates(source):
    path = ROOT / "tests" / "kernel" / f"_probe_{abs(hash(source))}.py"
    path.write_text(source + "\n")
    try:
        assert problems_in(path, public_modules())
    finally:
        path.unlink()
