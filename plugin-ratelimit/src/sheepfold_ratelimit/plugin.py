"""The rate-limit plugin's hooks: settings, the middleware, the outage fallback, health."""

from __future__ import annotations

import logging

from blacksheep import Application, Router
from blacksheep.middlewares import MiddlewareCategory
from dynaconf import Validator

from sheepfold import ComponentHealth, Platform, PlatformOpenAPI, RateLimiter, SettingsError, Status, hookimpl
from sheepfold.statistics import Statistics
from sheepfold_ratelimit import settings as ratelimit_settings
from sheepfold_ratelimit.client_ip import ClientAddress
from sheepfold_ratelimit.metrics import RateLimitMetrics
from sheepfold_ratelimit.middleware import RateLimitMiddleware
from sheepfold_ratelimit.openapi import document_limits
from sheepfold_ratelimit.outage import OutageRateLimiter
from sheepfold_ratelimit.routes import RoutePolicies, route_template

logger = logging.getLogger("sheepfold.ratelimit")


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
            router=app.router,
        )
    except LookupError as error:
        raise SettingsError([str(problem) for problem in error.args]) from None
    metrics = RateLimitMetrics(platform.metrics)
    switch = platform.capabilities["ratelimit"]
    # The switch calls its fallback only while the backend is down: that is where on_outage applies.
    # Nothing to recover when Redis returns: counts resume on Redis (those made meanwhile stay local).
    switch.wrap_fallback(lambda fallback: OutageRateLimiter(fallback, metrics))
    middleware = RateLimitMiddleware(
        # Without a fallback the switch's methods are the adapter's own: nothing added on the path.
        platform.require(RateLimiter),
        routes,
        ClientAddress(settings.get("ratelimit.trusted_proxies"), settings.get("ratelimit.ipv6_prefix")),
        metrics,
        platform=platform,
        send_headers=settings.get("ratelimit.headers"),
    )
    platform.provide(RoutePolicies, routes)
    platform.provide(RateLimitMiddleware, middleware)
    openapi = platform.find(PlatformOpenAPI)
    if openapi is not None:
        document_limits(openapi, routes, send_headers=settings.get("ratelimit.headers"))
    # After sessions and authentication (the key may be the identity) and before the application's own middleware.
    app.middlewares.append(middleware, MiddlewareCategory.AUTHZ)


@hookimpl(trylast=True)
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    # Last, so that every plugin's routes are there: an unknown policy is a settings problem for `check` too.
    routes = platform.find(RoutePolicies)
    if routes is None:
        return  # not configured: the settings problems that prevented it are reported already
    problems = []
    for route in router.iter_all():  # type: ignore[no-untyped-call]  # before start-up: registered_routes
        try:
            routes.check_handler(route.handler)
        except LookupError as error:
            problems.append(str(error.args[0]))
    if problems:
        raise SettingsError(problems)


@hookimpl
def sheepfold_startup(app: Application, platform: Platform) -> None:
    routes = platform.require(RoutePolicies)
    # Rules match route templates, not request paths: a rule naming a concrete path of a
    # parameterised route (or a typo) would silently limit nothing, so say so.
    for rule in routes.unmatched_rules(route_template(route.pattern) for route in app.router):
        logger.warning(
            "ratelimit.routes rule %r matches no route template; rules match templates such as "
            "'/api/items/{item_id}', not request paths",
            rule,
        )


@hookimpl
def sheepfold_health(platform: Platform) -> ComponentHealth:
    switch = platform.capabilities["ratelimit"]
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


@hookimpl
def sheepfold_statistics(platform: Platform) -> Statistics | None:
    middleware = platform.find(RateLimitMiddleware)
    if middleware is None:
        return None
    return middleware.metrics.statistics(middleware.routes.policies.values())


def _in_effect(mode: str, has_fallback: bool) -> str:
    if mode == "memory":
        return "memory, limit ÷ expected_instances" if has_fallback else "closed (no fallback adapter)"
    return mode
