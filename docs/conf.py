"""Sphinx configuration: the guides in docs/ (Markdown, through MyST) and the API reference generated from docstrings.

``make docs`` builds it with warnings as errors (``sphinx-build -W --keep-going -n``); the output is
``build/docs``. ``tests/kernel/test_api_reference.py`` fails when a public name is missing from it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from reference_resolver import setup as setup_reference_resolver  # docs/ itself, put on the path above

project = "sheepfold"
author = "sheepfold"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]

# Cross-references are checked (-n): a reference to a sheepfold name must resolve. References to
# other libraries' objects (blacksheep, redis, the standard library) cannot: the build reads no
# other project's inventory, so they are ignored.
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r"(?!sheepfold).*")]
# Private types that public signatures name: shown as text, since no plugin uses them directly.
PRIVATE_IN_SIGNATURES = [
    "sheepfold.memory.adapter.MemoryAdapter",  # the base class of the kernel's memory adapters
    "sheepfold.ratelimit.memory._KeyRecord",  # MemoryRateLimiter's MemoryAdapter[_KeyRecord]
    "sheepfold_realtime.socket.ClientSocket",  # RealtimeHub.sockets
    "sheepfold_realtime.metrics.RealtimeMetrics",  # RealtimeHub(platform, settings, metrics)
    "sheepfold_redis.failures._UnavailableOnFailure",  # what unavailable_on_failure() returns
    "sheepfold.loop_lag.LoopLag",  # FallbackSwitch(..., loop_lag=)
    "sheepfold.outages.SharedOutage",  # FallbackSwitch(..., shared_outage=)
    "sheepfold.http.body_shape.FieldProblem",  # BodyError's problems
    "sheepfold_ratelimit.metrics.RateLimitMetrics",  # RateLimitMiddleware(...), OutageRateLimiter(...)
    "sheepfold_ratelimit.outage.LocalRateLimiter",  # OutageRateLimiter(local, ...)
    "sheepfold_jobs.keys.QueueKeys",  # ArqJobs.keys(queue)
    "sheepfold_jobs.outage_runner.OutageRunner",  # SpooledJobs(..., runner=)
]
nitpick_ignore = [("py:class", name) for name in PRIVATE_IN_SIGNATURES]

myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# undoc-members: a dataclass's fields and a port's methods are listed even where they have no
# docstring of their own, so that no field name has to be guessed.
autodoc_default_options = {"show-inheritance": True, "undoc-members": True}
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# An "Attributes:" section becomes a field list: the attributes themselves are entries of their own
# (undoc-members), once.
napoleon_use_ivar = True

html_theme = "alabaster"
html_title = "sheepfold"
html_theme_options = {"description": "A plugin-based ASGI platform kernel", "fixed_sidebar": True}


def setup(app: Any) -> None:
    setup_reference_resolver(app)
