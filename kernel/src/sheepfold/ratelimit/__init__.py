"""Rate limiting: the port, its policies, and the in-memory adapter."""

from sheepfold.ratelimit.memory import MemoryRateLimiter
from sheepfold.ratelimit.policy import OutageMode, PenaltyPolicy, RateLimitPolicy, RateLimitWindow
from sheepfold.ratelimit.port import RateLimiter, RateLimitResult, WindowState, one_window_result

__all__ = [
    "MemoryRateLimiter",
    "OutageMode",
    "PenaltyPolicy",
    "RateLimitPolicy",
    "RateLimitResult",
    "RateLimitWindow",
    "RateLimiter",
    "WindowState",
    "one_window_result",
]
