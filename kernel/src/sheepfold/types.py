"""Type aliases shared across the kernel and its plugins."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

if TYPE_CHECKING:
    from sheepfold.platform import Platform

T = TypeVar("T")

# TypeAlias: without it a type checker takes this for a variable holding a union, not a generic alias.
MaybeAwaitable: TypeAlias = T | Awaitable[T]
"""A hook result: a value, or an awaitable the kernel awaits for it."""


class Adapter(Protocol):
    """What every port adapter offers besides its port's own methods.

    ``ping`` raises when the backend cannot serve calls; the fallback switch's
    health probe calls it. ``start`` and ``close`` open and release resources
    (connections, sweeper tasks); both may be no-ops. An adapter may set the
    class attribute ``bounds_its_calls = True`` when its client bounds every
    call with timeouts of its own; the switch then adds no timer of its own.
    An adapter may set ``outage_domain`` to an object that names what it
    fails with (plugin-redis: its ``RedisConnection``): the switches whose
    backends name the same object share the decision "the backend is down"
    and move to their fallbacks together (the platform's ``SharedOutage``).
    """

    async def ping(self) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


AdapterFactory = Callable[["Platform"], Any]
"""Builds an adapter for a platform; does no I/O (I/O belongs in ``start``)."""

RegisterProvider = Callable[[str, str, AdapterFactory], None]
"""``register(capability, name, factory)``: offer an adapter for a capability."""

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
"""An ASGI application: ``await app(scope, receive, send)`` (what ``sheepfold_wrap_asgi`` wraps and returns)."""
