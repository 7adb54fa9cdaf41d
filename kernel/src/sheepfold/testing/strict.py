"""Strict backend mode: a test that asked for a backend runs on it, or fails saying why.

A switch whose backend is down at start starts on its fallback (what
production wants); in a test that asked for Redis that silently makes it a
memory test. :func:`assert_backends` turns that into a failure naming the
capability, the backend asked for, the one serving and the backend's error.
"""

from __future__ import annotations

from collections.abc import Mapping

from sheepfold.fallback import Phase
from sheepfold.platform import Platform


class BackendMismatch(AssertionError):
    """Raised by :func:`assert_backends`: a capability is not served by the backend the test asked for."""


def backend_problems(platform: Platform, expected: Mapping[str, str] | None = None) -> list[str]:
    """Why ``platform`` is not on the backends a test expects; empty when it is.

    Every capability must be in phase ``backend`` (not on its fallback, not
    recovering); each one named in ``expected`` must also be served by the
    adapter of that name (``{"state": "redis"}``). An unknown capability in
    ``expected`` is a problem too, naming the known ones.
    """
    problems: list[str] = []
    for capability, name in (expected or {}).items():
        switch = platform.capabilities.get(capability)
        if switch is None:
            known = ", ".join(sorted(platform.capabilities))
            problems.append(f"{capability}: no such capability (known: {known})")
        elif switch.backend_name != name:
            problems.append(f"{capability}: configured backend is {switch.backend_name!r}, not {name!r}")
    for capability, switch in sorted(platform.capabilities.items()):
        if switch.phase is not Phase.BACKEND:
            error = f": {switch.last_error}" if switch.last_error else ""
            problems.append(
                f"{capability}: {switch.phase.value}, served by {switch.active_name!r} "
                f"instead of its backend {switch.backend_name!r}{error}"
            )
    return problems


def assert_backends(platform: Platform, expected: Mapping[str, str] | None = None) -> None:
    """Fail unless every capability of ``platform`` is served by its backend (and ``expected`` names match).

    Raises :class:`BackendMismatch` listing every capability that is off its
    backend, with the backend's last error (a Redis that refused the
    connection at start, say). Touches no backend: it reads the switches' state.
    """
    problems = backend_problems(platform, expected)
    if problems:
        raise BackendMismatch("not on the backends the test asked for:\n  " + "\n  ".join(problems))
