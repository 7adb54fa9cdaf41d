"""Which of this repository's plugin packages are installed: all of them in the workspace, one in `.ci/isolated`."""

from __future__ import annotations

import importlib.util
from importlib import metadata

import pytest

#: Every plugin package of this repository, and the distribution that ships it.
PLUGIN_DISTRIBUTIONS = {
    "sheepfold_redis": "sheepfold-redis",
    "sheepfold_ratelimit": "sheepfold-ratelimit",
    "sheepfold_sessions": "sheepfold-sessions",
    "sheepfold_jobs": "sheepfold-jobs",
    "sheepfold_realtime": "sheepfold-realtime",
    "sheepfold_database": "sheepfold-database",
    "sheepfold_console": "sheepfold-console",
    "sheepfold_telemetry": "sheepfold-telemetry",
    "sheepfold_example": "sheepfold-example",
}


def installed(package: str) -> bool:
    """True when ``package`` can be imported here (nothing is imported to find out)."""
    return importlib.util.find_spec(package) is not None


def missing_plugin(error: BaseException | None) -> str | None:
    """The distribution whose absence ``error`` reports (an import of one of our plugins), else None."""
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return None
    package = error.name.partition(".")[0]
    if package in PLUGIN_DISTRIBUTIONS and not installed(package):
        return PLUGIN_DISTRIBUTIONS[package]
    return None


def needs(package: str) -> pytest.MarkDecorator:
    """Skip a test (naming the distribution) where plugin ``package`` is not installed; it runs everywhere else."""
    return pytest.mark.skipif(
        not installed(package), reason=f"needs {PLUGIN_DISTRIBUTIONS[package]}, which is not installed here"
    )


def disabled_except(needed: set[str]) -> str:
    """A TOML list of every installed plugin's name but ``needed``: ``plugins.disabled`` for a served process."""
    names = sorted({entry.name for entry in metadata.entry_points(group="sheepfold.plugins")} - needed)
    return "[" + ", ".join(f'"{name}"' for name in names) + "]"
