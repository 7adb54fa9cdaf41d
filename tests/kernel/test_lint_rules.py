"""Rules of the code base that ruff and mypy do not check themselves."""

from __future__ import annotations

import io
import re
import tokenize
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# ``type: ignore[code]`` followed by its own comment giving the reason, e.g.
# ``# type: ignore[no-untyped-call]  # unannotated in prometheus_client``.
_IGNORE = re.compile(r"type:\s*ignore")
_IGNORE_WITH_REASON = re.compile(r"#\s*type:\s*ignore\[[a-z0-9-]+(,\s*[a-z0-9-]+)*\]\s+#\s*\S")


def _checked_sources() -> list[Path]:
    """Every ``.py`` file under the folders mypy checks (``[tool.mypy] files`` in pyproject.toml)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = [ROOT / folder for folder in config["tool"]["mypy"]["files"]]
    return sorted(path for folder in folders for path in folder.rglob("*.py"))


def unexplained_type_ignores(source: str) -> list[int]:
    """Line numbers of ``type: ignore`` comments that lack an error code or a reason."""
    lines = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        is_ignore = token.type == tokenize.COMMENT and _IGNORE.search(token.string)
        if is_ignore and not _IGNORE_WITH_REASON.match(token.string):
            lines.append(token.start[0])
    return lines


def test_make_lint_runs_mypy_on_every_distribution_source_folder():
    makefile = (ROOT / "Makefile").read_text()
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert lint is not None and "$(BIN)/mypy" in lint.group(1)
    members = re.search(r"^MEMBERS := (.+)$", makefile, re.MULTILINE)
    assert members is not None
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert sorted(config["tool"]["mypy"]["files"]) == sorted(f"{member}/src" for member in members.group(1).split())


def test_every_type_ignore_in_the_sources_names_its_code_and_reason():
    sources = _checked_sources()
    assert len(sources) > 50  # the folders were found
    offenders = [
        f"{path.relative_to(ROOT)}:{line}" for path in sources for line in unexplained_type_ignores(path.read_text())
    ]
    assert offenders == []


def test_the_rule_refuses_a_bare_or_unexplained_ignore_and_accepts_an_explained_one():
    source = (
        "a = f()  # type: ignore\n"
        "b = f()  # type: ignore[attr-defined]\n"
        "c = f()  # type: ignore[attr-defined]  #\n"
        "d = f()  # type: ignore[attr-defined]  # arq ships no stubs\n"
        "e = f()  # type: ignore[misc, arg-type]  # redis-py types the pipeline as sync\n"
        "f = '# type: ignore'\n"
    )
    assert unexplained_type_ignores(source) == [1, 2, 3]
