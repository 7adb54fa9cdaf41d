"""Apps built for a test: ``create_app`` with the plugins and backends the test chose, started, then stopped.

:func:`started_app` is the one way the kit builds an app; the
``sheepfold_app`` fixture and :func:`~sheepfold.testing.served.serving`
use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from blacksheep.testing import TestClient

from sheepfold.app import PlatformApplication, create_app
from sheepfold.platform import Platform
from sheepfold.testing import identity
from sheepfold.testing.strict import BackendMismatch, backend_problems


def merge_settings(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep-merge settings dictionaries, later layers winning key by key (sections merge, values replace)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
                merged[key] = merge_settings(merged[key], value)
            else:
                merged[key] = dict(value) if isinstance(value, Mapping) else value
    return merged


def backend_settings(backends: Mapping[str, str]) -> dict[str, Any]:
    """``{"state": "redis"}`` as settings: that capability's backend, memory as its fallback."""
    return {capability: {"backend": name, "fallback": "memory"} for capability, name in backends.items()}


class TestApp:
    """A started app, its platform, and a BlackSheep :class:`TestClient` on it (no network).

    :meth:`sign_in` gives the headers that make a request be a user with roles.
    """

    __test__ = False  # not a test class, whatever its name

    def __init__(self, app: PlatformApplication) -> None:
        self.app = app
        self.platform: Platform = app.platform
        self.client = TestClient(app)

    async def sign_in(self, subject: str, roles: Iterable[str] = ()) -> dict[str, str]:
        """Headers that make a request ``subject`` with ``roles``: a session cookie, or the kit's header.

        With the sessions plugin in the app the session is signed in through
        :func:`sheepfold_sessions.sign_in` (the identity is then the one
        production resolves); without it, the kit's identity header.
        """
        role_list = tuple(roles)
        response = await self.client.post(
            identity.SIGN_IN_PATH, query={"subject": subject, "roles": ",".join(role_list)}
        )
        if response.status == 404:
            return identity.identity_header(subject, role_list)
        if response.status != 204:
            raise AssertionError(f"signing {subject!r} in answered {response.status}")
        cookies = [header.decode().split(";", 1)[0] for header in response.headers.get(b"set-cookie")]
        return {"cookie": "; ".join(cookies)}


@contextlib.asynccontextmanager
async def started_app(
    settings: Mapping[str, Any] | None = None,
    plugins: Iterable[object] = (),
    *,
    backends: Mapping[str, str] | None = None,
    load_entry_points: bool = False,
    strict: bool = True,
    eager_jobs: bool = False,
) -> AsyncIterator[TestApp]:
    """Build an app with ``create_app``, start it, yield a :class:`TestApp`, stop it on exit.

    ``plugins`` are registered after the kernel's (and, with
    ``load_entry_points``, after the installed ones); ``backends`` picks a
    backend per capability (``{"state": "redis"}``, memory as fallback);
    ``eager_jobs`` runs each job of the memory job runner inside ``enqueue``.
    ``strict`` (the default) fails start-up when a capability is not on its
    backend (a Redis down at start): the test fails instead of running on the
    fallback. Raises :class:`~sheepfold.testing.strict.BackendMismatch` then,
    and what ``create_app`` raises for bad settings.
    """
    layers = [settings, backend_settings(backends or {}), {"jobs": {"eager": True}} if eager_jobs else None]
    app = create_app(merge_settings(*layers), plugins=[*plugins, identity.plugin], load_entry_points=load_entry_points)
    await app.start()  # type: ignore[no-untyped-call]  # unannotated in BlackSheep
    try:
        if strict and (problems := backend_problems(app.platform, backends)):
            raise BackendMismatch("strict start: " + "; ".join(problems))
        yield TestApp(app)
    finally:
        if app.started:  # a server that served it (its lifespan) may have stopped it already
            await app.stop()  # type: ignore[no-untyped-call]  # unannotated in BlackSheep
