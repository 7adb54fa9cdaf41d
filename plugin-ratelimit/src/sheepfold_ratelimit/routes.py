"""Which policy a route uses: a decorator on its handler, route rules in settings, or the default.

Rules bind to the *route* the router dispatched the request to, never to the
spelling of the path: BlackSheep dispatches ``/login``, ``/LOGIN``, ``/login/``
and ``/login/?x`` to the same route (its patterns match case-insensitively,
with an optional trailing slash, and parameters match percent-encoded text),
so rules are matched against the route's template (``/api/items/{item_id}``)
and every spelling the router accepts gets the route's one policy.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from blacksheep import Request
from blacksheep.server.routing import Route, Router

from sheepfold.ratelimit import RateLimitPolicy

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "sheepfold_rate_limit"


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """A route's choice: the policy name (None: exempt) and the units one request costs."""

    policy: str | None
    cost: int = 1


def rate_limit(policy: str | None, *, cost: int = 1) -> Callable[[F], F]:
    """Choose the rate-limit policy of a route handler, by name; ``None`` exempts the route.

    ``cost`` is how many units of the policy one request counts for. The
    choice wins over the rules in settings (``ratelimit.routes``,
    ``ratelimit.exempt_paths``) and over ``ratelimit.default_policy``. An
    unknown policy name fails start-up, naming the handler.
    """
    if cost < 1:
        raise ValueError(f"cost must be at least 1, got {cost}")

    def mark(handler: F) -> F:
        setattr(handler, _ATTRIBUTE, RouteLimit(policy, cost))
        return handler

    return mark


def route_limit_of(handler: Callable[..., Any]) -> RouteLimit | None:
    """The decorator's choice on ``handler``, seen through BlackSheep's wrappers (``root_fn``)."""
    return getattr(getattr(handler, "root_fn", handler), _ATTRIBUTE, None)


def route_template(pattern: bytes | str) -> str:
    """The template a rule is matched against: a route's pattern in BlackSheep's mustache form.

    ``/items/<int:item_id>``, ``/items/:item_id`` and ``/items/{int:item_id}``
    all read ``/items/{item_id}``, as in the OpenAPI document.
    """
    return Route(pattern, None).mustache_pattern


def _normalised_rule(rule: str) -> str:
    # As BlackSheep normalises a route pattern (no trailing slash) and matches it (any case).
    if len(rule) > 1 and rule.endswith("/"):
        rule = rule.rstrip("/") or "/"
    return rule.lower()


class RoutePolicies:
    """Resolves the policy (and cost) of a request from the route the router dispatched it to.

    Order: the handler's decorator; the first ``routes`` rule whose glob
    matches the route's template (a policy name, or ``""`` to exempt);
    ``exempt_paths``; the default policy (``None``: routes without a choice
    are not limited). Rules are shell-style globs over route templates
    (``/api/*``, ``/api/items/{item_id}``), compared without regard to case
    or a trailing slash, as the router compares paths. Choices are cached per
    route template, so a request costs one dictionary lookup after the
    router's own (cached) match.
    """

    def __init__(
        self,
        policies: Mapping[str, RateLimitPolicy],
        *,
        default: str | None,
        routes: Mapping[str, str],
        exempt_paths: Sequence[str],
        router: Router,
    ) -> None:
        self.policies = dict(policies)
        self._router = router
        unknown: list[str] = []

        def named(name: str | None, setting: str) -> RateLimitPolicy | None:
            try:
                return self._named(name or "", setting)
            except LookupError as error:
                unknown.append(error.args[0])
                return None

        self._default = named(default, "ratelimit.default_policy")
        self._rules = [
            (_normalised_rule(rule), named(name, f"ratelimit.routes.{rule!r}")) for rule, name in routes.items()
        ]
        if unknown:
            raise LookupError(*unknown)  # every unknown name at once, one per argument
        self._exempt = [_normalised_rule(rule) for rule in exempt_paths]
        # Keyed by the route patterns of the router, so bounded by the number of routes.
        self._by_pattern: dict[bytes, tuple[RateLimitPolicy, int] | None] = {}
        self._by_handler: dict[int, tuple[RateLimitPolicy, int] | None] = {}

    def _named(self, name: str, setting: str) -> RateLimitPolicy | None:
        if not name:
            return None
        try:
            return self.policies[name]
        except KeyError:
            known = ", ".join(sorted(self.policies)) or "none"
            raise LookupError(f"{setting}: no rate-limit policy named {name!r}; defined: {known}") from None

    def check_handler(self, handler: Callable[..., Any]) -> None:
        """Raise ``LookupError`` when ``handler``'s decorator names an unknown policy."""
        choice = route_limit_of(handler)
        if choice is not None and choice.policy is not None:
            self._named(choice.policy, f"@rate_limit on {getattr(handler, '__qualname__', handler)!r}")

    def unmatched_rules(self, templates: Iterable[str]) -> list[str]:
        """The ``ratelimit.routes`` rules that match none of ``templates`` (a likely typo or stale rule)."""
        lowered = [template.lower() for template in templates]
        return [rule for rule, _ in self._rules if not any(fnmatch.fnmatchcase(t, rule) for t in lowered)]

    def _decorated(self, handler: Callable[..., Any]) -> Any:
        # (policy, cost) chosen by handler's decorator, _EXEMPT, or None (no decorator), cached per handler.
        key = id(handler)
        try:
            return self._by_handler[key]
        except KeyError:
            choice = route_limit_of(handler)
            if choice is None:
                cached = None
            else:
                policy = self._named(choice.policy, "@rate_limit") if choice.policy else None
                cached = (policy, choice.cost) if policy else _EXEMPT
            self._by_handler[key] = cached
            return cached

    def resolve(self, handler: Callable[..., Any], request: Request) -> tuple[RateLimitPolicy, int] | None:
        """``(policy, cost)`` for ``request``, served by ``handler``; None when it is not limited."""
        decorated = self._decorated(handler)
        if decorated is not None:
            return None if decorated is _EXEMPT else decorated
        # The router has just matched this request to dispatch it; for a router without route
        # filters the same call is answered from BlackSheep's own cache of (method, path) matches.
        match = self._router.get_match(request)
        pattern = match.pattern if match is not None else b"*"
        try:
            return self._by_pattern[pattern]
        except KeyError:
            chosen = self._by_pattern[pattern] = self.for_template(route_template(pattern))
            return chosen

    def for_route(self, handler: Callable[..., Any], template: str) -> tuple[RateLimitPolicy, int] | None:
        """``(policy, cost)`` of the route ``template`` served by ``handler``, as :meth:`resolve` chooses it."""
        decorated = self._decorated(handler)
        if decorated is not None:
            return None if decorated is _EXEMPT else decorated
        return self.for_template(template)

    def for_template(self, template: str) -> tuple[RateLimitPolicy, int] | None:
        """``(policy, cost)`` that the settings give the route ``template``; None when not limited."""
        template = template.lower()
        for rule, policy in self._rules:
            if fnmatch.fnmatchcase(template, rule):
                return (policy, 1) if policy else None
        if any(fnmatch.fnmatchcase(template, rule) for rule in self._exempt):
            return None
        return (self._default, 1) if self._default else None


#: Marks a handler whose decorator exempts it (distinct from "no decorator").
_EXEMPT: Any = object()
