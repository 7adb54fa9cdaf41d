"""Sphinx extension: one entry per public object, found under every name it has.

A public object is importable under several names (``sheepfold.Cache`` is ``sheepfold.cache.Cache``
and ``sheepfold.cache.port.Cache``); signatures name it by the module that defines it. The reference
documents it once, under its most public name:

- a module page (``automodule``) leaves out the members that ``sheepfold.__all__`` or a parent
  package's ``__all__`` already exports (they are documented there);
- a constant or type alias that a package re-exports (``sheepfold.identity.ANONYMOUS``) is named in
  an ``autodata`` directive of its page (autodoc's ``automodule`` skips imported data), and gets the
  ``#:`` comment or docstring written beside its assignment in the module that defines it;
- a cross-reference that does not resolve (``sheepfold.cache.port.Cache`` in a signature) is looked
  up by the object it names and pointed at the entry documenting that object; a type variable of a
  signature (``T``) is left as text.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any, ParamSpec, TypeVar

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.pycode import ModuleAnalyzer


def import_dotted(name: str) -> Any:
    """The object a dotted name denotes (module, then attributes), or None when it has none."""
    try:
        return pkgutil.resolve_name(name)
    except (ImportError, AttributeError, ValueError):
        return None


def exported_by_parent(module: str, obj: object) -> bool:
    """Whether ``sheepfold.__all__`` or the ``__all__`` of a package above ``module`` exports ``obj``."""
    parents = ["sheepfold"] if module != "sheepfold" else []
    parts = module.split(".")
    parents += [".".join(parts[:n]) for n in range(2, len(parts))]
    for parent in parents:
        package = importlib.import_module(parent)
        if any(getattr(package, name, None) is obj for name in getattr(package, "__all__", ())):
            return True
    return False


def skip_member(app: Sphinx, what: str, name: str, obj: object, skip: bool, options: Any) -> bool | None:
    """Leave out of a module page what a more public name documents already."""
    if what != "module" or skip:
        return None
    module = app.env.temp_data.get("autodoc:module") or app.env.ref_context.get("py:module")
    if module and isinstance(module, str) and exported_by_parent(module, obj):
        return True
    return None


def defining_comment(name: str, obj: object) -> list[str]:
    """The ``#:`` comment or string literal documenting ``name``'s assignment where it is defined."""
    package, attribute = name.split(".")[0], name.rsplit(".", 1)[1]
    for module in list(sys.modules.values()):
        module_name = getattr(module, "__name__", "")
        if not module_name.startswith(package) or getattr(module, attribute, None) is not obj:
            continue
        docs = ModuleAnalyzer.for_module(module_name).find_attr_docs().get(("", attribute))
        if docs:
            return list(docs)
    return []


def document_reexported_data(app: Sphinx, what: str, name: str, obj: object, options: Any, lines: list[str]) -> None:
    """Give a re-exported constant the documentation written where it is defined."""
    if what == "data" and not any(line.strip() for line in lines):
        lines[:] = defining_comment(name, obj)


def documented_objects(env: BuildEnvironment) -> dict[int, str]:
    """``id(object) -> the name it is documented under``, for documented classes, functions, methods."""
    cache: dict[int, str] | None = getattr(env, "_sheepfold_documented", None)
    if cache is None:
        cache = {}
        for name in sorted(env.get_domain("py").objects, key=lambda n: (n.count("."), n)):
            obj = import_dotted(name)
            if obj is not None and (callable(obj) or isinstance(obj, property)):
                cache.setdefault(id(obj), name)
        env._sheepfold_documented = cache  # type: ignore[attr-defined]
    return cache


def resolve_alias(app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element) -> Any:
    """Resolve ``sheepfold.x.y.Name`` to the entry of the object it names, when that has another name."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    candidates = [target]
    if node.get("py:module"):
        candidates.append(f"{node['py:module']}.{target}")
    for candidate in candidates:
        if not candidate.startswith("sheepfold"):
            continue
        obj = import_dotted(candidate)
        if isinstance(obj, TypeVar | ParamSpec):
            return contnode  # a signature's type variable: nothing to point at
        documented = documented_objects(env).get(id(obj)) if obj is not None else None
        if documented and documented != candidate:
            domain = env.get_domain("py")
            return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], documented, node, contnode)
    return None


def forget_documented(app: Sphinx, env: BuildEnvironment) -> None:
    """The objects are read again on each build (the map is not kept in the pickled environment)."""
    if hasattr(env, "_sheepfold_documented"):
        del env._sheepfold_documented


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("autodoc-skip-member", skip_member)
    app.connect("autodoc-process-docstring", document_reexported_data)
    app.connect("missing-reference", resolve_alias)
    app.connect("env-updated", forget_documented)
    return {"parallel_read_safe": True}
