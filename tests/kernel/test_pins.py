"""Every private name of a dependency that a distribution uses is covered by an upper bound on it, named beside
the pin (docs/development.md, "Pins").

Read from the source with ``ast``: imports of a ``_``-prefixed module of another
package (``redis._parsers``), and ``_``-prefixed attributes read on objects
other than ``self``/``cls`` that no module of ours defines
(``pool._available_connections``). Private methods overridden in a subclass
are not found this way; docs/development.md lists them with their pins.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = sorted(path.parent for path in [*ROOT.glob("*/src"), *ROOT.glob("plugins/*/src")])
OURS = re.compile(r"sheepfold\w*")


def parsed(distribution: Path) -> list[ast.Module]:
    return [ast.parse(path.read_text(), filename=str(path)) for path in sorted((distribution / "src").rglob("*.py"))]


def our_private_names() -> set[str]:
    """``_names`` our own code defines (functions, methods, classes, attributes of ``self``): not a dependency's."""
    names: set[str] = set()
    for distribution in DISTRIBUTIONS:
        for tree in parsed(distribution):
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _on_self(node):
                    names.add(node.attr)
    return {name for name in names if name.startswith("_")}


def _on_self(node: ast.Attribute) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(distribution: Path, ours: set[str]) -> set[str]:
    """The private module paths and attribute names of dependencies that ``distribution``'s code uses."""
    found: set[str] = set()
    for tree in parsed(distribution):
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules = [node.module]
            for module in modules:
                parts = module.split(".")
                if not OURS.fullmatch(parts[0]) and any(_private(part) for part in parts):
                    found.add(module)
            if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in ours and not _on_self(node):
                found.add(node.attr)
    return found


def pin_comments(distribution: Path) -> tuple[str, list[str]]:
    """The comments of ``pyproject.toml`` (one text) and the requirements with an upper bound."""
    text = (distribution / "pyproject.toml").read_text()
    comments = "\n".join(line.partition("#")[2] for line in text.splitlines() if "#" in line)
    requirements = tomllib.loads(text)["project"]["dependencies"]
    return comments, [requirement for requirement in requirements if "<" in requirement]


@pytest.mark.parametrize("distribution", DISTRIBUTIONS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_private_name_used_is_named_beside_an_upper_bound(distribution):
    comments, bounded = pin_comments(distribution)
    used = private_uses(distribution, our_private_names())
    unnamed = sorted(name for name in used if name not in comments)
    assert not unnamed, f"private names used without a pin naming them in {distribution.name}/pyproject.toml: {unnamed}"
    assert not used or bounded, f"{distribution.name} uses {sorted(used)} but bounds no dependency"


def test_the_scan_sees_the_private_names_in_use():
    ours = our_private_names()
    assert "redis._parsers.base" in private_uses(ROOT / "plugin-redis", ours)
    assert "_available_connections" in private_uses(ROOT / "plugin-redis", ours)
    assert "_di_scope" in private_uses(ROOT / "plugins" / "database", ours)
