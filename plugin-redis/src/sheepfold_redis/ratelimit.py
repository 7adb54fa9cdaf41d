"""The Redis adapter of the rate-limiter port: one Lua script, one round trip, Redis's own clock.

Algorithm: a sliding log per window. Each window of a policy is a sorted set
of the admitted units, scored by the microsecond Redis admitted them; a hit
drops the units older than the window, counts the rest (ZCARD) and adds its
own only when every window has room. It is exact: never more than ``limit``
units in any ``seconds``-long stretch, where a fixed window lets a client
spend two limits across a window edge and GCRA (a leaky bucket) admits a
full burst and then the steady rate on top, close to twice the limit in the
first window. "100/minute" means what it says, which is what a fleet-wide
limit promises. The price is memory: a window holds up to ``limit`` members
per key (about 60 bytes each), which is small for the limits an API sets
per client (a 1000/hour window is ~60 kB per busy key), and keys expire with
their window.

Progressive penalties live in the same script, in a hash per key: a refused
hit that is not already blocked counts a breach and blocks the key for
``base * factor**(breaches-1)`` seconds, capped at ``max``; the hash expires
``forget_after`` seconds after the block ends, which forgets the breaches.

The clock is Redis's ``TIME``, read inside the script, so instances whose
clocks disagree still share one window. Every key of one call shares a
Cluster hash tag (the policy and the client key), so the script runs on one
node and the keys of different clients spread over the cluster.
"""

from __future__ import annotations

import functools
import math

from sheepfold.ratelimit import RateLimitPolicy, RateLimitResult, WindowState, one_window_result
from sheepfold_redis.connection import RedisConnection
from sheepfold_redis.failures import unavailable_on_failure
from sheepfold_redis.hashtags import tag_text

MICROSECONDS = 1_000_000

# KEYS[1]: the penalty hash; KEYS[2..]: one sorted set per window.
# ARGV: cost, penalty base, factor, max, forget_after (µs; base 0 = no penalty), then limit, width (µs) per window.
# Returns: allowed (0/1), retry_after (µs), blocked (0/1), then remaining and reset (µs) per window.
_HIT = """
local unpack = unpack or table.unpack
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local stamp = clock[1] .. '.' .. clock[2] .. ':'
local cost = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local windows = #KEYS - 1
local counts, limits, widths = {}, {}, {}
local fits = true
for i = 1, windows do
  limits[i] = tonumber(ARGV[4 + 2 * i])
  widths[i] = tonumber(ARGV[5 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i + 1], '-inf', now - widths[i])
  counts[i] = redis.call('ZCARD', KEYS[i + 1])
  if counts[i] + cost > limits[i] then fits = false end
end
local blocked_until = 0
if base > 0 then blocked_until = tonumber(redis.call('HGET', KEYS[1], 'until') or '0') end
local blocked = blocked_until > now
local allowed = fits and not blocked
local retry = 0
if allowed then
  for i = 1, windows do
    local members = {}
    for unit = 1, cost do
      members[2 * unit - 1] = now
      members[2 * unit] = stamp .. (counts[i] + unit)
    end
    redis.call('ZADD', KEYS[i + 1], unpack(members))
    redis.call('PEXPIRE', KEYS[i + 1], math.ceil(widths[i] / 1000) + 1)
    counts[i] = counts[i] + cost
  end
elseif blocked then
  retry = blocked_until - now
else
  for i = 1, windows do
    local excess = counts[i] + cost - limits[i]
    if excess > 0 then
      local wait = widths[i]
      if cost <= limits[i] then
        local freeing = redis.call('ZRANGE', KEYS[i + 1], excess - 1, excess - 1, 'WITHSCORES')
        wait = tonumber(freeing[2]) + widths[i] - now
      end
      if wait > retry then retry = wait end
    end
  end
  if base > 0 then
    local breaches = redis.call('HINCRBY', KEYS[1], 'n', 1)
    local block = math.floor(math.min(base * tonumber(ARGV[3]) ^ (breaches - 1), tonumber(ARGV[4])))
    redis.call('HSET', KEYS[1], 'until', now + block)
    redis.call('PEXPIRE', KEYS[1], math.ceil((block + tonumber(ARGV[5])) / 1000))
    if block > retry then retry = block end
    blocked = true
  end
end
local answer = {allowed and 1 or 0, math.floor(retry), blocked and 1 or 0}
for i = 1, windows do
  local reset = 0
  if allowed then
    reset = widths[i]
  elseif counts[i] > 0 then
    local newest = redis.call('ZRANGE', KEYS[i + 1], -1, -1, 'WITHSCORES')
    reset = tonumber(newest[2]) + widths[i] - now
  end
  answer[#answer + 1] = limits[i] - counts[i]
  answer[#answer + 1] = math.floor(reset)
end
return answer
"""


class _PolicyLayout:
    """What a policy contributes to every call: its key names and the script's arguments after ``cost``."""

    __slots__ = ("arguments", "fingerprint", "name", "windows")

    def __init__(self, policy: RateLimitPolicy) -> None:
        self.name = policy.name
        self.fingerprint = tag_text(policy.fingerprint)
        self.windows = policy.windows
        penalty = policy.penalty
        self.arguments: list[int | float] = (
            [0, 1, 0, 0]
            if penalty is None
            else [_micro(penalty.base), penalty.factor, _micro(penalty.max), _micro(penalty.forget_after)]
        )
        for window in policy.windows:
            self.arguments += [window.limit, _micro(window.seconds)]


def _micro(seconds: float) -> int:
    return max(1, math.ceil(seconds * MICROSECONDS))


class RedisRateLimiter:
    """:class:`~sheepfold.ratelimit.RateLimiter` on Redis: one EVALSHA per hit.

    Layout, all under the tag ``{<policy>:<key>}``: ``<ns>{…}:rl:<fingerprint>:p``
    (the penalty hash, fields ``n`` and ``until``) and ``<ns>{…}:rl:<fingerprint>:<i>``
    (window ``i``'s sorted set). The fingerprint names the policy's numbers,
    so a changed policy starts afresh. Redis being down raises
    :class:`~sheepfold.errors.BackendUnavailable`. Needs Redis 5 or later
    (scripts that read ``TIME`` before writing).
    """

    # redis-py bounds every call (pool, connect and command timeouts, few retries): the switch adds no timer.
    bounds_its_calls = True

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self.outage_domain = connection  # down together with every adapter on this connection
        self._hit = connection.script(_HIT)
        # By fingerprint, a string: hashing a policy dataclass would hash each of its fields on every call.
        self._layouts: dict[str, _PolicyLayout] = {}
        # Busy clients come back again and again: their key names are built once.
        self._key_names = functools.lru_cache(maxsize=16_384)(self._build_key_names)

    def _layout(self, policy: RateLimitPolicy) -> _PolicyLayout:
        layout = self._layouts.get(policy.fingerprint)
        if layout is None:
            layout = self._layouts[policy.fingerprint] = _PolicyLayout(policy)
        return layout

    def keys(self, key: str, policy: RateLimitPolicy) -> list[str]:
        """The penalty hash's name, then each window's sorted set's, for ``key`` under ``policy``."""
        self._layout(policy)
        return self._key_names(key, policy.fingerprint)

    def _build_key_names(self, key: str, fingerprint: str) -> list[str]:
        layout = self._layouts[fingerprint]
        tag = tag_text(f"{layout.name}:{key}")
        return [self.connection.key("rl", layout.fingerprint, "p", tag=tag)] + [
            self.connection.key("rl", layout.fingerprint, index, tag=tag) for index in range(len(layout.windows))
        ]

    async def hit(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> RateLimitResult:
        layout = self._layout(policy)
        with unavailable_on_failure():
            answer = await self.connection.run_script(
                self._hit, self._key_names(key, policy.fingerprint), [cost, *layout.arguments]
            )
        allowed, retry_after, blocked = answer[0] == 1, answer[1] / MICROSECONDS, answer[2] == 1
        if len(layout.windows) == 1:
            reset = answer[4] / MICROSECONDS
            return one_window_result(layout.windows[0], answer[3], reset, allowed, retry_after, blocked)
        states = tuple(
            [
                WindowState(window, answer[3 + 2 * index], answer[4 + 2 * index] / MICROSECONDS)
                for index, window in enumerate(layout.windows)
            ]
        )
        return RateLimitResult.of(allowed, retry_after, states, blocked)

    async def reset(self, key: str, policy: RateLimitPolicy) -> None:
        with unavailable_on_failure():
            await self.connection.client.delete(*self.keys(key, policy))

    async def ping(self) -> None:
        await self.connection.ping()

    async def start(self) -> None:
        """Nothing to open: the shared client connects on its first command."""

    async def close(self) -> None:
        """Nothing to release: the plugin closes the shared connection at shut-down."""
