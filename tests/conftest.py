"""The suite's own collection rule; its fixtures (services, apps, isolation) are the kit's, ``sheepfold.testing``.

pytest loads the kit's plugin from the kernel's ``pytest11`` entry point:
``redis_url``, ``postgres_url``, ``redis_prefix``, ``pg_schema``,
``sheepfold_app``, ``sheepfold_served`` and the rest come from there, as for
a plugin author's own tests. ``in_ci`` and ``require_service`` are re-exported
for the modules that import them from here.
"""

from __future__ import annotations

import pytest

from sheepfold.testing import in_ci, require_service
from tests.support.plugins import missing_plugin

__all__ = ["in_ci", "require_service"]


class _TestModule(pytest.Module):
    """A test module that needs a plugin which is not installed is skipped, naming the distribution.

    That happens only where plugins are installed alone (``.ci/isolated``);
    any other import error still fails the collection.
    """

    def collect(self):  # type: ignore[override]
        try:
            return super().collect()
        except pytest.Collector.CollectError as error:
            missing = missing_plugin(error.__cause__)
            if missing is None:
                raise
            pytest.skip(f"needs {missing}, which is not installed here", allow_module_level=True)


def pytest_pycollect_makemodule(module_path, parent):
    return _TestModule.from_parent(parent, path=module_path)
