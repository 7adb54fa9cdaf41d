"""Which Redis errors mean "Redis is down", and turning them into ``BackendUnavailable``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Literal

from redis import exceptions as redis_errors

from sheepfold.errors import BackendUnavailable

#: Errors that mean Redis cannot serve the call now (as opposed to a bad call,
#: such as WRONGTYPE): the connection failed or timed out, the cluster is
#: reconfiguring, or a replica is being promoted.
REDIS_FAILURES: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,  # also MasterNotFoundError, BusyLoadingError, AuthenticationError
    redis_errors.TimeoutError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    redis_errors.ReadOnlyError,  # a failover demoted the server we talk to
    redis_errors.SlotNotCoveredError,
    OSError,
    TimeoutError,
)

#: Error replies redis-py has no class for that mean the same: ``NOREPLICAS`` (a primary with
#: ``min-replicas-to-write`` that no replica acknowledges: its writes would be lost in a failover) and
#: ``MASTERDOWN`` (a replica cut off from its master, with ``replica-serve-stale-data no``).
REFUSALS = ("NOREPLICAS", "MASTERDOWN")


class _UnavailableOnFailure:
    """Re-raise :data:`REDIS_FAILURES` as ``BackendUnavailable``; stateless unless given ``on_failure``."""

    __slots__ = ("_on_failure",)

    def __init__(self, on_failure: Callable[[], None] | None = None) -> None:
        self._on_failure = on_failure

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _traceback: TracebackType | None
    ) -> Literal[False]:  # never swallows: an outage is re-raised as BackendUnavailable
        if error is None:
            return False
        outage = (isinstance(error, REDIS_FAILURES) and not isinstance(error, BackendUnavailable)) or (
            isinstance(error, redis_errors.ResponseError) and str(error).startswith(REFUSALS)
        )
        if self._on_failure is not None and (outage or isinstance(error, asyncio.CancelledError)):
            self._on_failure()
        if outage:
            raise BackendUnavailable(
                f"Redis: {type(error).__name__}: {error}",
                timed_out=isinstance(error, redis_errors.TimeoutError | TimeoutError),
            ) from error
        return False


_UNAVAILABLE_ON_FAILURE = _UnavailableOnFailure()


def unavailable_on_failure(on_failure: Callable[[], None] | None = None) -> _UnavailableOnFailure:
    """A context manager that turns Redis being down into :class:`~sheepfold.errors.BackendUnavailable`.

    Every Redis adapter wraps its calls in it, so the fallback switch sees one
    error type whatever failed (refused connection, timeout, cluster down)::

        with unavailable_on_failure():
            return await connection.client.get(key)

    So do the refusals of :data:`REFUSALS` (``NOREPLICAS``, ``MASTERDOWN``). Other
    errors (a bad call such as WRONGTYPE) pass through unchanged. It is a
    plain ``with`` block (not ``async with``) and costs next to nothing.

    ``on_failure``, if given, is called (synchronously) when a call fails for
    an outage or is cancelled (the fallback switch cancels calls slower than
    its ``call_timeout``): an adapter notes there that calls are about to go
    to its fallback. Build such a context manager once per adapter and reuse it.
    """
    return _UNAVAILABLE_ON_FAILURE if on_failure is None else _UnavailableOnFailure(on_failure)
