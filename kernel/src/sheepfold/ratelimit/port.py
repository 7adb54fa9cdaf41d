"""The rate-limiter port: one atomic check-and-count per request."""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

from sheepfold.ratelimit.policy import RateLimitPolicy, RateLimitWindow


class WindowState(NamedTuple):
    """One window of a policy after a hit: units left, and seconds until it is whole again."""

    window: RateLimitWindow
    remaining: int
    reset: float


class RateLimitResult(NamedTuple):
    """The answer to one :meth:`RateLimiter.hit` (a named tuple: immutable and cheap to build per request).

    ``limit``, ``remaining`` and ``reset`` describe the window with the
    fewest units left (the one that binds); ``windows`` has every window.
    ``reset`` is the seconds until that window is whole again.
    ``retry_after`` is 0 when ``allowed``, else the seconds after which the
    same hit could be admitted (the longer of the window's wait and any
    penalty block). ``blocked`` is True while a penalty blocks the key.
    """

    allowed: bool
    limit: int
    remaining: int
    reset: float
    retry_after: float
    windows: tuple[WindowState, ...]
    blocked: bool = False

    @classmethod
    def of(cls, allowed: bool, retry_after: float, windows: tuple[WindowState, ...], blocked: bool) -> RateLimitResult:
        """Summarise ``windows`` by the one with the fewest units left (ties: the longest wait)."""
        binding = windows[0] if len(windows) == 1 else min(windows, key=lambda state: (state.remaining, -state.reset))
        # tuple.__new__ directly: the named tuple's own __new__ is one more Python call, on every request.
        return tuple.__new__(
            cls,
            (
                allowed,
                binding.window.limit,
                binding.remaining,
                binding.reset,
                0.0 if allowed else retry_after,
                windows,
                blocked,
            ),
        )


def one_window_result(
    window: RateLimitWindow, remaining: int, reset: float, allowed: bool, retry_after: float, blocked: bool
) -> RateLimitResult:
    """:meth:`RateLimitResult.of` for a policy of one window (most are), without building a list of states.

    Adapters call it on every hit; ``tuple.__new__`` skips the named tuple's own ``__new__``.
    """
    return RateLimitResult.of(allowed, retry_after, (tuple.__new__(WindowState, (window, remaining, reset)),), blocked)


@runtime_checkable
class RateLimiter(Protocol):
    """Counts hits against policies, one atomic operation per hit.

    Every window is a sliding window: at most ``limit`` units in any
    stretch of ``seconds``, never the double burst a fixed window allows at
    its edge. A hit is admitted only when every window of the policy has
    room for its ``cost``; an admitted hit counts in every window, a refused
    one in none. Keys are namespaced by the adapter and by the policy (its
    name and numbers), so two policies never share a count. Adapters raise
    :class:`~sheepfold.errors.BackendUnavailable` when the backend is down.
    """

    async def hit(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> RateLimitResult:
        """Count ``cost`` units for ``key`` under ``policy`` if every window admits them, in one atomic step."""
        ...

    async def reset(self, key: str, policy: RateLimitPolicy) -> None:
        """Forget ``key``'s hits and penalty under ``policy`` (an operator's unblock)."""
        ...

    async def ping(self) -> None:
        """Raise unless the backend can serve calls."""
        ...
