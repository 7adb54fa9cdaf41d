"""The API reference documents the whole public surface (datasette's way: the docs are checked by tests).

The reference (docs/reference/, built by ``make docs``) is built here with Sphinx's ``dummy``
builder, which reads every page and runs autodoc without writing HTML; what autodoc registered in
the Python domain is what the reference documents. A public name is documented when an entry of the
reference names it or the same object (``sheepfold.fallback.Phase`` is documented as
``sheepfold.Phase``).
"""

from __future__ import annotations

import importlib
import inspect
import io
import re
import sys
import warnings
from pathlib import Path

import pytest

sphinx_application = pytest.importorskip(
    "sphinx.application", reason="Sphinx (the root pyproject.toml's docs group) is not installed here"
)

DOCS = Path(__file__).parents[2] / "docs"
sys.path.insert(0, str(DOCS))  # as docs/conf.py does for Sphinx: the reference's own extension
from reference_resolver import import_dotted  # noqa: E402  # needs the path above

PLUGIN_PACKAGES = [
    "sheepfold_redis",
    "sheepfold_sessions",
    "sheepfold_ratelimit",
    "sheepfold_jobs",
    "sheepfold_realtime",
    "sheepfold_database",
    "sheepfold_console",
    "sheepfold_telemetry",
]


def guide_public_modules() -> list[str]:
    """The modules plugin-authors.md lists under "What plugins may rely on"."""
    guide = (DOCS / "plugin-authors.md").read_text()
    section = guide.split("## What plugins may rely on", 1)[1].split("\n### ", 1)[0]
    return sorted(set(re.findall(r"`(sheepfold(?:\.[a-z]\w*)+)`", section)))


def public_modules() -> list[str]:
    return ["sheepfold", *guide_public_modules(), *PLUGIN_PACKAGES, "sheepfold.testing"]


def public_names(module_name: str) -> list[str]:
    """``__all__``, or else what the module defines (classes, functions) without a leading underscore."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return sorted(
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module_name
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The Python objects the built reference documents, by name."""
    out = tmp_path_factory.mktemp("docs")
    app = sphinx_application.Sphinx(
        str(DOCS), str(DOCS), str(out / "dummy"), str(out / "doctrees"), "dummy", status=None, warning=io.StringIO()
    )
    with warnings.catch_warnings():
        # Sphinx's and MyST's deprecation notices about each other: make docs is where warnings count.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        app.build()
    return set(app.env.get_domain("py").objects)


def is_documented(module_name: str, name: str, reference: set[str]) -> bool:
    if f"{module_name}.{name}" in reference:
        return True
    obj = getattr(importlib.import_module(module_name), name)
    return any(entry.rsplit(".", 1)[-1] == name and import_dotted(entry) is obj for entry in reference)


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_name_is_in_the_api_reference(module_name, reference):
    missing = [name for name in public_names(module_name) if not is_documented(module_name, name, reference)]
    assert not missing, f"{module_name}: {missing} missing from the API reference (docs/reference/)"


def test_the_guides_list_of_public_modules_is_read():
    # The parametrisation above is only as good as this list: an empty one would check nothing.
    assert {"sheepfold.platform", "sheepfold.periodic", "sheepfold.jobs.statistics"} <= set(guide_public_modules())


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_class_and_function_has_a_docstring(module_name):
    module = importlib.import_module(module_name)
    bare = [
        name
        for name in public_names(module_name)
        if (inspect.isclass(obj := getattr(module, name)) or inspect.isfunction(obj)) and not inspect.getdoc(obj)
    ]
    assert not bare, f"{module_name}: {bare} have no docstring"
