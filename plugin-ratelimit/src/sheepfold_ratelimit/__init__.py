"""sheepfold-ratelimit: one rate limit for the whole fleet, with progressive penalties.

Choose a route's policy with :func:`rate_limit`; everything else is settings
(``[ratelimit]``, see ``docs/operations.md``).
"""

from sheepfold_ratelimit.client_ip import ClientAddress
from sheepfold_ratelimit.middleware import RateLimitMiddleware, RefusalListener
from sheepfold_ratelimit.outage import OutageDecision, OutageRateLimiter
from sheepfold_ratelimit.routes import RouteLimit, RoutePolicies, rate_limit

__all__ = [
    "ClientAddress",
    "OutageDecision",
    "OutageRateLimiter",
    "RateLimitMiddleware",
    "RefusalListener",
    "RouteLimit",
    "RoutePolicies",
    "rate_limit",
]
