"""``sheepfold new-plugin NAME``: a plugin distribution to start from, rendered from ``files/``.

The distribution has a pyproject with the ``sheepfold.plugins`` entry point,
a ``src/`` package whose ``plugin.py`` adds a setting, a route and a health
report, and tests on the test kit, on memory and on Redis.
"""

from __future__ import annotations

import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_PACKAGE_FOLDER = "PACKAGE"


def plugin_names(name: str) -> dict[str, str]:
    """The names a plugin called ``name`` goes by: ``name``, ``package`` (``sheepfold_x``), ``dist`` (``sheepfold-x``).

    ``name`` is lower-case letters, digits and ``_`` (a ``-`` is read as
    ``_``), starting with a letter. Raises ValueError otherwise.
    """
    plugin = name.replace("-", "_")
    if not _NAME.fullmatch(plugin):
        raise ValueError(f"{name!r}: expected lower-case letters, digits and '_', starting with a letter (at most 40)")
    return {"name": plugin, "package": f"sheepfold_{plugin}", "dist": f"sheepfold-{plugin.replace('_', '-')}"}


def create_plugin(name: str, directory: Path) -> Path:
    """Write the distribution of plugin ``name`` into ``directory / <dist>``; that folder.

    Raises ValueError for a bad name, FileExistsError when the folder exists
    (nothing is overwritten).
    """
    names = plugin_names(name)
    target = directory / names["dist"]
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose another --directory or name")
    _render(files("sheepfold.template") / "files", target, names)
    return target


def _render(source: Traversable, target: Path, names: dict[str, str]) -> None:
    target.mkdir(parents=True)
    for entry in source.iterdir():
        name = names["package"] if entry.name == _PACKAGE_FOLDER else entry.name
        if entry.is_dir():
            _render(entry, target / name, names)
        elif name.endswith(".tmpl"):
            text = Template(entry.read_text(encoding="utf-8")).substitute(names)
            (target / name.removesuffix(".tmpl")).write_text(text, encoding="utf-8")
