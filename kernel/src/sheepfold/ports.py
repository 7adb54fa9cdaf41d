"""The capabilities the kernel knows, each with the port (Protocol) its adapters implement."""

from __future__ import annotations

from sheepfold.cache.port import Cache
from sheepfold.jobs.port import Jobs
from sheepfold.pubsub.port import PubSub
from sheepfold.ratelimit.port import RateLimiter
from sheepfold.sessions.port import SessionRecords
from sheepfold.state.port import State

#: capability name -> port type. The switch bound for a capability is what
#: handlers receive when they declare the port type (``cache: Cache``).
PORTS: dict[str, type] = {
    "state": State,
    "cache": Cache,
    "ratelimit": RateLimiter,
    "sessions": SessionRecords,
    "jobs": Jobs,
    "pubsub": PubSub,
}
