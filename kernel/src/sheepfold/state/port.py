"""The key/value state port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class State(Protocol):
    """Key/value state: bytes under string keys, optionally expiring, and capped lists.

    Every method is one atomic operation on the backend (one round trip on
    Redis) unless its docstring says otherwise. Keys are namespaced by the
    adapter; callers pass bare keys (a plugin builds them with
    :meth:`~sheepfold.platform.Platform.namespace`). TTLs are seconds
    (fractions allowed). A key holds either a value (:meth:`set`,
    :meth:`incr`, :meth:`compare_and_set`) or a list (:meth:`list_push`);
    reading or writing one as the other raises (each backend its own error).
    Adapters raise :class:`~sheepfold.errors.BackendUnavailable` when the
    backend is down.

    While the backend is down the fallback switch serves every method from
    the fallback (memory, per process): values, lists and compare-and-set
    outcomes there are not carried back to the backend when it returns, and
    a compare-and-set is then atomic within one process only.
    """

    async def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None when absent or expired. Redis: one ``GET``."""
        ...

    async def get_many(self, keys: Sequence[str]) -> dict[str, bytes | None]:
        """The values under ``keys``: a dict with every key asked for, None where absent or expired.

        One snapshot on a single server (Redis: one ``MGET``); on a Redis
        Cluster keys in different slots are read by node, each key
        atomically but not all together. A key holding a list reads as None
        (as ``MGET`` answers). No keys: an empty dict, without touching the
        backend.
        """
        ...

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, replacing any value and TTL. Redis: one ``SET`` (``PX`` with a TTL)."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key`` (a value or a list); True when it existed. Redis: one ``DEL``."""
        ...

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` to the integer under ``key`` (absent counts as 0) and return it.

        ``ttl`` is applied only when this call creates the key, so a counter
        started with a TTL expires that long after its first increment. The
        value under ``key`` must be an integer's decimal digits. Redis: one
        ``INCRBY``, or one script with a TTL.
        """
        ...

    async def ttl(self, key: str) -> float | None:
        """Seconds until ``key`` (a value or a list) expires; ``math.inf`` when it never does, None when absent.

        Redis: one ``PTTL`` (millisecond resolution).
        """
        ...

    async def compare_and_set(self, key: str, expected: bytes | None, new: bytes, ttl: float | None = None) -> bool:
        """Store ``new`` under ``key`` only if its value is ``expected`` now; True when it did.

        ``expected=None`` means "only if ``key`` is absent" (create once). On
        success the value and TTL are replaced as by :meth:`set` (``ttl``
        None: no expiry); on failure nothing changes. Atomic: of concurrent
        calls expecting the same value, one wins. Redis: one ``SET NX`` when
        ``expected`` is None, else one script (``GET``, compare, ``SET``).
        """
        ...

    async def list_push(self, key: str, value: bytes, *, max_length: int, ttl: float | None = None) -> int:
        """Put ``value`` first in the list under ``key`` and keep its newest ``max_length`` items.

        Creates the list when absent. ``ttl`` (re)sets the whole list's
        expiry on every push, so a list lives ``ttl`` seconds after its last
        push; None leaves its expiry as it was (none for a new list). Returns
        the list's length after trimming. Atomic (push, trim and expiry
        together): a reader never sees more than ``max_length`` items.
        ``max_length`` below 1 raises ValueError. Redis: one script
        (``LPUSH``, ``LTRIM``, ``PEXPIRE``) on one key.
        """
        ...

    async def list_range(self, key: str, start: int = 0, stop: int = -1) -> list[bytes]:
        """Items ``start`` to ``stop`` (both included; negative counts from the end) of the list, newest first.

        An absent or expired list reads as ``[]``. Redis: one ``LRANGE``.
        """
        ...

    async def ping(self) -> None:
        """Raise unless the backend can serve calls."""
        ...
