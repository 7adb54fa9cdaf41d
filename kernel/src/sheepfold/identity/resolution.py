"""Resolving a request's :class:`Identity` once, through the ``sheepfold_identity_from_request`` hook."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from sheepfold.errors import PluginError
from sheepfold.identity.model import ANONYMOUS, Identity

if TYPE_CHECKING:
    from blacksheep import Request

    from sheepfold.platform import Platform

#: Where a request's resolved identity is kept: its ASGI scope, which a WebSocket shares with its handshake.
SCOPE_KEY = "sheepfold.identity"
HOOK = "sheepfold_identity_from_request"


class IdentityResolver:
    """Asks the plugins who a request is made by, once per request.

    Implementations are asked one at a time in the kernel's call order
    (``tryfirst``, registration order, ``trylast``); an awaitable answer is
    awaited before the next plugin is asked; the first non-None answer wins
    and the plugins after it are not asked. No answer: :data:`ANONYMOUS`.
    The result is kept in the request's ASGI scope, so every later call for
    the same request (rate limiter, response cache, handler) costs a dict read.
    """

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        # Plugins are all registered before the platform exists, so the order is final.
        self._impls = platform.plugins.ordered(HOOK)

    async def identify(self, request: Request) -> Identity:
        """The identity ``request`` arrived with (resolved on the first call, then remembered)."""
        # The ASGI scope dict, or None for a hand-built Request. BlackSheep types it as a protocol; Any
        # rather than typing.cast, which is a Python call, and this runs several times per request.
        scope: Any = request.scope
        if scope is None:  # a Request built by hand, not served: nowhere to remember it
            return await self._resolve(request)
        found: Identity | None = scope.get(SCOPE_KEY)
        if found is None:
            found = scope[SCOPE_KEY] = await self._resolve(request)
        return found

    async def _resolve(self, request: Request) -> Identity:
        arguments = {"request": request, "platform": self._platform}
        for impl in self._impls:
            answer = impl.function(*map(arguments.__getitem__, impl.argnames))
            # None and an Identity first: most implementations are synchronous, and isawaitable costs.
            if answer is None:
                continue
            if not isinstance(answer, Identity) and inspect.isawaitable(answer):
                answer = await answer
                if answer is None:
                    continue
            if not isinstance(answer, Identity):
                raise PluginError(
                    f"returned {type(answer).__name__}, not an Identity", plugin=impl.plugin_name, hook=HOOK
                )
            return answer
        return ANONYMOUS
