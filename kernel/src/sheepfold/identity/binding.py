"""Handlers receive the request's identity by declaring a parameter ``identity: Identity``."""

from __future__ import annotations

from typing import Any

from blacksheep import Request
from blacksheep.server.bindings import Binder

from sheepfold.identity.model import Identity
from sheepfold.identity.resolution import IdentityResolver


class IdentityBinder(Binder):
    """BlackSheep binder: a handler parameter annotated ``Identity`` gets the request's identity.

    BlackSheep keeps binders by type for the whole process; each app's own
    :class:`IdentityResolver` is found in that app's services when the
    handler is normalised (at app start).
    """

    type_alias = Identity

    def __init__(self, resolver: IdentityResolver) -> None:
        super().__init__(Identity, "identity", implicit=True)
        self.resolver = resolver

    @classmethod
    def from_alias(cls, services: Any) -> IdentityBinder:
        return cls(services.resolve(IdentityResolver))

    async def get_value(self, request: Request) -> Identity:
        return await self.resolver.identify(request)
