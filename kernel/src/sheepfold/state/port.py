"""The key/value state port."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class State(Protocol):
    """Key/value state: bytes under string keys, optionally expiring.

    Every method is one atomic operation on the backend (one round trip on
    Redis). Keys are namespaced by the adapter; callers pass bare keys. TTLs
    are seconds (fractions allowed). Adapters raise
    :class:`~sheepfold.errors.BackendUnavailable` when the backend is down.
    """

    async def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None when absent or expired."""
        ...

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, replacing any value and TTL."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True when it existed."""
        ...

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` to the integer under ``key`` (absent counts as 0) and return it.

        ``ttl`` is applied only when this call creates the key, so a counter
        started with a TTL expires that long after its first increment. The
        value under ``key`` must be an integer's decimal digits.
        """
        ...

    async def ping(self) -> None:
        """Raise unless the backend can serve calls."""
        ...
