"""Which policy a route uses: a decorator on its handler, path rules in settings, or the default."""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

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
    choice wins over the path rules in settings (``ratelimit.routes``,
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


class RoutePolicies:
    """Resolves the policy (and cost) of a request from its handler and path.

    Order: the handler's decorator; the first ``routes`` pattern that
    matches the path (a policy name, or ``""`` to exempt); ``exempt_paths``;
    the default policy (``None``: routes without a choice are not limited).
    Patterns are shell-style globs (``/api/*``). Results are cached by path.
    """

    def __init__(
        self,
        policies: Mapping[str, RateLimitPolicy],
        *,
        default: str | None,
        routes: Mapping[str, str],
        exempt_paths: Sequence[str],
    ) -> None:
        self.policies = dict(policies)
        unknown = []
        for setting, name in [
            ("ratelimit.default_policy", default),
            *((f"ratelimit.routes.{pattern!r}", name) for pattern, name in routes.items()),
        ]:
            try:
                self._named(name or "", setting)
            except LookupError as error:
                unknown.append(error.args[0])
        if unknown:
            raise LookupError(*unknown)  # every unknown name at once, one per argument
        self._default = self._named(default, "ratelimit.default_policy") if default else None
        self._routes = [
            (pattern, self._named(name, f"ratelimit.routes.{pattern!r}")) for pattern, name in routes.items()
        ]
        self._exempt = list(exempt_paths)
        self._by_path = functools.lru_cache(maxsize=4096)(self._for_path)
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

    def resolve(self, handler: Callable[..., Any], path: str) -> tuple[RateLimitPolicy, int] | None:
        """``(policy, cost)`` for a request to ``path`` served by ``handler``; None when not limited."""
        key = id(handler)
        try:
            cached = self._by_handler[key]
        except KeyError:
            choice = route_limit_of(handler)
            if choice is None:
                cached = self._by_handler[key] = None
            else:
                policy = self._named(choice.policy, "@rate_limit") if choice.policy else None
                cached = self._by_handler[key] = (policy, choice.cost) if policy else _EXEMPT
        if cached is _EXEMPT:
            return None
        return cached if cached is not None else self._by_path(path)

    def _for_path(self, path: str) -> tuple[RateLimitPolicy, int] | None:
        for pattern, policy in self._routes:
            if fnmatch.fnmatchcase(path, pattern):
                return (policy, 1) if policy else None
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in self._exempt):
            return None
        return (self._default, 1) if self._default else None


#: Marks a handler whose decorator exempts it (distinct from "no decorator").
_EXEMPT: Any = object()
