"""The rate-limit plugin's hooks: settings, the middleware, the outage fallback, health."""

from __future__ import annotations

from blacksheep import Application
from blacksheep.server.application import MiddlewareCategory
from dynaconf import Validator

from sheepfold import ComponentHealth, Platform, PlatformOpenAPI, SettingsError, Status, hookimpl
from sheepfold.fallback import FallbackSwitch
from sheepfold_ratelimit import settings as ratelimit_settings
from sheepfold_ratelimit.client_ip import ClientAddress
from sheepfold_ratelimit.metrics import RateLimitMetrics
from sheepfold_ratelimit.middleware import RateLimitMiddleware
from sheepfold_ratelimit.openapi import document_limits
from sheepfold_ratelimit.outage import OutageRateLimiter
from sheepfold_ratelimit.routes import RoutePolicies


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return ratelimit_settings.validators()


@hookimpl
def sheepfold_configure_app(app: Application, platform: Platform) -> None:
    settings = platform.settings
    policies = ratelimit_settings.policies_from(settings)
    try:
        routes = RoutePolicies(
            policies,
            default=settings.get("ratelimit.default_policy") or None,
            routes=dict(settings.get("ratelimit.routes")),
            exempt_paths=list(settings.get("ratelimit.exempt_paths")),
        )
    except LookupError as error:
        raise SettingsError([str(error.args[0])]) from None
    metrics = RateLimitMetrics(platform.metrics)
    switch = platform.capabilities["ratelimit"]
    if switch.has_fallback:
        # The switch calls its fallback only while the backend is down: that is where on_outage applies.
        switch.fallback = OutageRateLimiter(switch.fallback, metrics)
    middleware = RateLimitMiddleware(
        # Without a fallback the switch only forwards calls: skip it, it is on every request's path.
        switch if switch.has_fallback else switch.backend,  # type: ignore[arg-type]  # the switch stands in
        routes,
        ClientAddress(settings.get("ratelimit.trusted_proxies"), settings.get("ratelimit.ipv6_prefix")),
        metrics,
        hook=platform.plugins.manager.hook,
        send_headers=settings.get("ratelimit.headers"),
    )
    platform.provide(RoutePolicies, routes)
    platform.provide(RateLimitMiddleware, middleware)
    openapi = platform.find(PlatformOpenAPI)
    if openapi is not None:
        document_limits(openapi, routes, send_headers=settings.get("ratelimit.headers"))
    # After authentication (the key may be the user) and before the application's own middleware.
    app.middlewares.append(middleware, MiddlewareCategory.AUTHZ)


@hookimpl
def sheepfold_startup(app: Application, platform: Platform) -> None:
    routes = platform.require(RoutePolicies)
    for route in app.router:
        routes.check_handler(route.handler)


@hookimpl
def sheepfold_health(platform: Platform) -> ComponentHealth:
    switch: FallbackSwitch = platform.capabilities["ratelimit"]
    on_backend = switch.on_backend
    policies = {
        name: {
            "limit": [f"{w.limit}/{w.seconds:g}s" for w in policy.windows],
            "on_outage": policy.on_outage,
            **({"expected_instances": policy.expected_instances} if policy.on_outage == "memory" else {}),
            **({} if on_backend else {"in_effect": _in_effect(policy.on_outage, switch.has_fallback)}),
        }
        for name, policy in platform.require(RoutePolicies).policies.items()
    }
    return ComponentHealth(
        "ratelimit",
        Status.OK if on_backend else Status.DEGRADED,
        details={"backend": switch.active_name, "policies": policies},
    )


def _in_effect(mode: str, has_fallback: bool) -> str:
    if mode == "memory":
        return "memory, limit ÷ expected_instances" if has_fallback else "closed (no fallback adapter)"
    return mode
