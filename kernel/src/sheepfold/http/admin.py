"""The one guard of the admin surface: ``admin.token``, ``admin.open``, and routes declared admin-only.

Every admin route (``/-/*``, ``/metrics``, and any route a plugin declares
with :func:`admin_only`) is answered by :class:`AdminGuardMiddleware`, which
asks :meth:`AdminGuard.admits`. That method is the one place deciding who is
an administrator: the admin token, or an identity the platform's permission
check allows the route's action (``admin`` by default; the ``admin`` role has
every action unless a plugin says otherwise).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import urlencode

from blacksheep import Request, Response, Router

from sheepfold.http.problems import problem
from sheepfold.identity import ADMIN
from sheepfold.settings import is_development

if TYPE_CHECKING:
    from sheepfold.platform import Platform

logger = logging.getLogger("sheepfold.admin")

F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[[Request], Awaitable[Response]]

#: A shorter admin token is refused: it could be guessed.
MIN_TOKEN_LENGTH = 32
#: Paths of the admin surface: a route here that is not declared admin-only stops start-up.
ADMIN_PATH_PREFIX = "/-/"
ADMIN_PATHS = frozenset({"/metrics"})
_ATTRIBUTE = "sheepfold_admin_only"


@dataclass(frozen=True, slots=True)
class AdminRoute:
    """The mark :func:`admin_only` leaves on a handler: the permission an identity needs for it, and
    where a browser that is refused is sent to sign in (None: nowhere, 401)."""

    action: str = ADMIN
    sign_in: str | None = None


@overload
def admin_only(handler: F) -> F: ...
@overload
def admin_only(*, action: str = ADMIN, sign_in: str | None = None) -> Callable[[F], F]: ...
def admin_only(handler: F | None = None, *, action: str = ADMIN, sign_in: str | None = None) -> F | Callable[[F], F]:
    """Declare a route handler part of the admin surface: :class:`AdminGuard` must admit its requests.

    Use it bare (``@admin_only``: the admin token, or an identity allowed
    ``admin``) or with ``action``, the permission an identity needs for this
    route (``platform.allowed(identity, action)``; a plugin's
    ``sheepfold_permission_allowed`` may grant it to a role of its own). The
    admin token admits every admin route. Requests not admitted get 401
    problem+json with ``WWW-Authenticate: Bearer`` before the handler runs;
    with ``sign_in`` (a path, for a page people open in a browser), a ``GET``
    that accepts ``text/html`` is redirected there instead (303, with
    ``?next=<the path asked for>``).
    """

    def mark(function: F) -> F:
        setattr(function, _ATTRIBUTE, AdminRoute(action, sign_in))
        return function

    return mark if handler is None else mark(handler)


def admin_route_of(handler: Callable[..., Any]) -> AdminRoute | None:
    """The :func:`admin_only` mark of ``handler``, seen through BlackSheep's wrappers (``root_fn``)."""
    return getattr(getattr(handler, "root_fn", handler), _ATTRIBUTE, None)


def is_admin_path(path: str) -> bool:
    """True for a path or route template of the admin surface (``/-/...``, ``/metrics``)."""
    return path.startswith(ADMIN_PATH_PREFIX) or path.rstrip("/") in ADMIN_PATHS


@dataclass(frozen=True)
class AdminGuard:
    """Decides whether a request may use the admin surface.

    ``open`` admits everyone: ``admin.open = true``, or the development
    environment without a token. Otherwise a request must carry
    ``Authorization: Bearer <admin.token>``, compared in constant time, or
    be made by an identity the platform allows the route's action.
    """

    token: bytes
    open: bool
    reason: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> AdminGuard:
        """The guard ``admin.token`` and ``admin.open`` describe (see :func:`admin_problems` for the rules)."""
        token = settings.get("admin.token")
        # Not UTF-8 text (a lone surrogate from an environment variable) is a settings problem already: no raise here.
        token = token.encode(errors="surrogatepass") if isinstance(token, str) else b""
        if settings.get("admin.open") is True:
            return cls(token, open=True, reason="admin.open = true")
        if not token and is_development(settings):
            return cls(b"", open=True, reason="development environment without admin.token")
        return cls(token, open=False)

    def bears_token(self, request: Request) -> bool:
        """True when the admin surface is open, or ``request`` bears the admin token (no identity asked)."""
        if self.open:
            return True
        header = request.get_first_header(b"authorization") or b""
        scheme, _, presented = header.partition(b" ")
        return bool(self.token) and scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(), self.token)

    async def admits(self, request: Request, platform: Platform, action: str = ADMIN) -> bool:
        """True when :meth:`bears_token`, or the request's identity is allowed ``action``.

        Resolves the identity (``platform.identify``: may read a session record) only without the token.
        """
        if self.bears_token(request):
            return True
        return platform.allowed(await platform.identify(request), action)

    def warn_if_open(self) -> None:
        """Log at WARNING that the admin surface is open, and why (called on every start)."""
        if self.open:
            logger.warning("the admin surface (/-/*, /metrics, /health details) is open to anyone: %s", self.reason)


def admin_problems(settings: Any) -> list[str]:
    """What is wrong with ``admin.*``: outside development a token of ``MIN_TOKEN_LENGTH``+ characters is
    required unless ``admin.open = true``; a token, when set, is never shorter. Values are never printed."""
    token = settings.get("admin.token")
    if not isinstance(token, str) or settings.get("admin.open") is True:
        return []  # a wrong type is the validators' to report; an open surface needs no token
    if token and len(token) < MIN_TOKEN_LENGTH:
        return [f"admin.token: expected at least {MIN_TOKEN_LENGTH} characters"]
    if not token and not is_development(settings):
        environment = str(getattr(settings, "current_env", "") or "").lower()
        return [
            f"admin.token: required outside development (environment {environment!r}); set it to "
            f"{MIN_TOKEN_LENGTH}+ random characters, e.g. SHEEPFOLD_ADMIN__TOKEN=$(openssl rand -hex 32), "
            "or set admin.open = true to leave the admin surface open on purpose"
        ]
    return []


def unguarded_admin_routes(router: Router) -> list[str]:
    """One line per route on an admin path whose handler is not declared with :func:`admin_only`."""
    problems = []
    for route in router.iter_all():  # type: ignore[no-untyped-call]  # before start-up: registered_routes
        pattern = route.pattern.decode() if isinstance(route.pattern, bytes) else str(route.pattern)
        if is_admin_path(pattern) and admin_route_of(route.handler) is None:
            name = getattr(route.handler, "__qualname__", repr(route.handler))
            problems.append(f"route {pattern} ({name}) is on the admin surface but not declared with admin_only")
    return problems


def unauthorized() -> Response:
    """401 problem+json asking for the admin token."""
    response = problem(401, "This route requires the admin token as a Bearer token.")
    response.add_header(b"WWW-Authenticate", b"Bearer")
    return response


def refused(request: Request, route: AdminRoute) -> Response:
    """What a request the guard does not admit gets: 401, or a browser's redirect to ``route.sign_in``."""
    accept = request.get_first_header(b"accept") or b""
    if route.sign_in is None or request.method != "GET" or b"text/html" not in accept:
        return unauthorized()
    location = f"{route.sign_in}?{urlencode({'next': request.path})}"
    return Response(303, headers=[(b"Location", location.encode())])


class AdminGuardMiddleware:
    """Answers 401 to a request for an :func:`admin_only` route that the guard does not admit.

    Only the chains of admin routes include it (:meth:`applies_to`, read by the
    kernel's application at start): other routes do not pay for it.
    """

    def __init__(self, guard: AdminGuard, platform: Platform) -> None:
        self.guard = guard
        self.platform = platform

    def applies_to(self, handler: Callable[..., Any]) -> bool:
        """True when ``handler`` (a route's own handler) is declared :func:`admin_only`."""
        return admin_route_of(handler) is not None

    async def __call__(self, request: Request, handler: Handler) -> Response:
        route = admin_route_of(handler)
        if route is None or await self.guard.admits(request, self.platform, route.action):
            return await handler(request)
        return refused(request, route)
