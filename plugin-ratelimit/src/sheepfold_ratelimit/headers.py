"""The IETF ``RateLimit-Policy`` and ``RateLimit`` header fields (draft-ietf-httpapi-ratelimit-headers-10)."""

from __future__ import annotations

import math

from sheepfold.ratelimit import RateLimitPolicy, RateLimitResult

POLICY_HEADER = b"RateLimit-Policy"
STATE_HEADER = b"RateLimit"
RETRY_AFTER = b"Retry-After"  # the value: retry_after_seconds(result)


def item_names(policy: RateLimitPolicy) -> list[str]:
    """One quota-policy name per window: the policy's name, suffixed by the window when there are several."""
    if len(policy.windows) == 1:
        return [policy.name]
    return [f"{policy.name}-{_seconds(window.seconds)}s" for window in policy.windows]


def policy_header(policy: RateLimitPolicy) -> bytes:
    """``"standard";q=100;w=60`` (one item per window); the same on every response, so built once."""
    items = [
        f'"{name}";q={window.limit};w={_seconds(window.seconds)}'
        for name, window in zip(item_names(policy), policy.windows, strict=True)
    ]
    return ", ".join(items).encode()


def state_header(names: list[str], result: RateLimitResult) -> bytes:
    """``"standard";r=42;t=17``: units left in each window and whole seconds until it is whole again."""
    if len(names) == 1:  # the common case, built without a generator: this runs on every response
        return f'"{names[0]}";r={result.remaining};t={_seconds(result.reset)}'.encode()
    return ", ".join(
        f'"{name}";r={state.remaining};t={_seconds(state.reset)}'
        for name, state in zip(names, result.windows, strict=True)
    ).encode()


def retry_after_seconds(result: RateLimitResult) -> int:
    """Whole seconds, rounded up and at least 1, so a client that waits that long is not refused early."""
    return max(1, math.ceil(result.retry_after))


def _seconds(value: float) -> int:
    # Rounded up (a client waiting that long finds the window whole), but a float a hair over a
    # whole second (60.0000001 from clock arithmetic) is that second.
    whole = int(value)
    return whole if value - whole < 1e-6 else whole + 1
