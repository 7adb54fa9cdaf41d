"""The middleware that limits each request by its route's policy and answers 429 with the IETF headers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from blacksheep import Request, Response

from sheepfold import Platform, problem
from sheepfold.fallback import BACKEND_FAILURES
from sheepfold.ratelimit import RateLimiter, RateLimitPolicy
from sheepfold_ratelimit import headers
from sheepfold_ratelimit.client_ip import ClientAddress
from sheepfold_ratelimit.metrics import RateLimitMetrics
from sheepfold_ratelimit.outage import OutageDecision
from sheepfold_ratelimit.routes import RoutePolicies

Handler = Callable[[Request], Awaitable[Response]]
RefusalListener = Callable[[Request, RateLimitPolicy, str, int], None]
"""Called with ``(request, policy, reason, retry_after)`` for each refused request, on its path (keep it cheap):
``reason`` is ``"limited"`` (429) or ``"closed"`` (503, the backend down and the policy failing closed)."""
logger = logging.getLogger("sheepfold.ratelimit")


class RateLimitMiddleware:
    """Counts each HTTP request against its route's policy, under the key of its client.

    The key is what the ``sheepfold_ratelimit_key`` hook supplies, else the
    subject of the request's :class:`~sheepfold.Identity` (so users behind
    one address have budgets of their own), else the client address. A request the
    ``sheepfold_ratelimit_exempt`` hook exempts is not counted. Admitted
    responses carry ``RateLimit-Policy`` and ``RateLimit``; a refused
    request gets 429 problem+json with ``Retry-After``. While the backend is
    down, each policy's ``on_outage`` decides (see :class:`~sheepfold_ratelimit.OutageRateLimiter`).
    Every refusal is told to the listeners of :meth:`add_refusal_listener`
    (``sheepfold-telemetry`` makes each a span event).
    """

    def __init__(
        self,
        limiter: RateLimiter,
        routes: RoutePolicies,
        client_address: ClientAddress,
        metrics: RateLimitMetrics,
        *,
        platform: Platform,
        send_headers: bool = True,
    ) -> None:
        self.limiter = limiter
        self.routes = routes
        self.client_address = client_address
        self.metrics = metrics
        self.send_headers = send_headers
        self.platform = platform
        hook = platform.plugins.manager.hook
        # Hooks with no implementation are skipped: calling pluggy costs a little on every request.
        self._key_hook = hook.sheepfold_ratelimit_key if hook.sheepfold_ratelimit_key.get_hookimpls() else None
        self._exempt_hook = hook.sheepfold_ratelimit_exempt if hook.sheepfold_ratelimit_exempt.get_hookimpls() else None
        self._policy_headers = {name: headers.policy_header(p) for name, p in routes.policies.items()}
        self._item_names = {name: headers.item_names(p) for name, p in routes.policies.items()}
        self._refusal_listeners: list[RefusalListener] = []

    def add_refusal_listener(self, listener: RefusalListener) -> None:
        """Call ``listener(request, policy, reason, retry_after)`` for every request refused from now on."""
        self._refusal_listeners.append(listener)

    async def key_of(self, request: Request, policy: RateLimitPolicy) -> str:
        """The key ``request`` is counted under: hook, else ``user:<subject>``, else ``ip:<address>``."""
        identity = await self.platform.identify(request)
        if self._key_hook is not None:
            supplied = self._key_hook(request=request, policy=policy, identity=identity, platform=self.platform)
            if supplied is not None:
                return str(supplied)
        if identity.subject is not None:
            return f"user:{identity.subject}"
        return f"ip:{self.client_address.of(request)}"

    async def __call__(self, request: Request, handler: Handler) -> Response:
        if request.scope["type"] != "http":
            return await handler(request)
        choice = self.routes.resolve(handler, request)
        if choice is None:
            return await handler(request)
        policy, cost = choice
        if self._exempt_hook is not None and self._exempt_hook(request=request, policy=policy, platform=self.platform):
            return await handler(request)
        try:
            key = await self.key_of(request, policy)
            result = await self.limiter.hit(key, policy, cost)
        except OutageDecision as decision:
            return await self._outage(request, handler, policy, decision.admit)
        except BACKEND_FAILURES as error:
            # No fallback adapter is configured: "open" still admits, anything else refuses.
            logger.warning("rate limiting backend failed (%s); policy %r is %s", error, policy.name, policy.on_outage)
            return await self._outage(request, handler, policy, policy.on_outage == "open")
        if not result.allowed:
            self.metrics.limited(policy, key, result)
            wait = headers.retry_after_seconds(result)
            response = problem(
                429,
                f"Too many requests: policy {policy.name!r} is exhausted for this client.",
                policy=policy.name,
                retry_after=wait,
            )
            response.add_header(headers.RETRY_AFTER, str(wait).encode())
            for listener in self._refusal_listeners:
                listener(request, policy, "limited", wait)
        else:
            self.metrics.decision(policy, "allowed")
            response = await handler(request)
        if self.send_headers:
            response.add_header(headers.POLICY_HEADER, self._policy_headers[policy.name])
            response.add_header(headers.STATE_HEADER, headers.state_header(self._item_names[policy.name], result))
        return response

    async def _outage(self, request: Request, handler: Handler, policy: RateLimitPolicy, admit: bool) -> Response:
        if admit:
            self.metrics.decision(policy, "open")
            return await handler(request)
        self.metrics.decision(policy, "closed")
        for listener in self._refusal_listeners:
            listener(request, policy, "closed", 1)
        response = problem(503, f"Rate limiting is unavailable and policy {policy.name!r} fails closed.")
        response.add_header(headers.RETRY_AFTER, b"1")
        return response
