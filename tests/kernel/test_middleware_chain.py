"""How the kernel's app chains middleware: a HandlerWrapper wraps its part itself, a RouteScopedMiddleware
stays out of the routes it does not apply to, and every middleware keeps the place its category gives it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from blacksheep import Request, Response, text
from blacksheep.middlewares import MiddlewareCategory
from blacksheep.testing import TestClient

from sheepfold import create_app
from sheepfold.app import HandlerWrapper, RouteScopedMiddleware
from tests.kernel.plugins_for_tests import plugin

Handler = Callable[[Request], Awaitable[Response]]


class Plain:
    """A middleware BlackSheep's way."""

    def __init__(self, name: str, seen: list[str]) -> None:
        self.name, self.seen = name, seen

    async def __call__(self, request: Request, handler: Handler) -> Response:
        self.seen.append(f"{self.name} in")
        response = await handler(request)
        self.seen.append(f"{self.name} out")
        return response


class Wrapping(Plain):
    """A middleware that wraps the rest of the chain itself; its ``__call__`` is BlackSheep's way in."""

    def __init__(self, name: str, seen: list[str]) -> None:
        super().__init__(name, seen)
        self.wrapped: list[Any] = []
        self.called = 0

    async def __call__(self, request: Request, handler: Handler) -> Response:
        self.called += 1
        return await self.wrap(handler)(request)

    def wrap(self, handler: Handler) -> Handler:
        self.wrapped.append(handler)

        async def wrapped(request: Request) -> Response:
            self.seen.append(f"{self.name} in")
            response = await handler(request)
            self.seen.append(f"{self.name} out")
            return response

        return wrapped


class OnlyOnPing(Plain):
    def applies_to(self, handler: Callable[..., Any]) -> bool:
        return handler.__name__ == "ping"


async def ping() -> Response:
    return text("pong")


async def other() -> Response:
    return text("other")


def chained_app(seen: list[str]) -> tuple[Any, Wrapping]:
    wrapping = Wrapping("wrapping", seen)

    def configure(app: Any, platform: Any) -> None:
        app.middlewares.append(Plain("message", seen), MiddlewareCategory.MESSAGE)
        app.middlewares.append(wrapping, MiddlewareCategory.BUSINESS)
        app.middlewares.append(OnlyOnPing("scoped", seen), MiddlewareCategory.AUTHZ)
        app.middlewares.append(Plain("init", seen), MiddlewareCategory.INIT)

    def routes(router: Any, platform: Any) -> None:
        router.add_get("/ping", ping)
        router.add_get("/other", other)

    app = create_app(
        {},
        plugins=[plugin("chain", sheepfold_configure_app=configure, sheepfold_register_routes=routes)],
        load_entry_points=False,
    )
    return app, wrapping


def test_the_protocols_tell_the_middlewares_apart():
    seen: list[str] = []
    assert isinstance(Wrapping("w", seen), HandlerWrapper) and not isinstance(Plain("p", seen), HandlerWrapper)
    assert isinstance(OnlyOnPing("s", seen), RouteScopedMiddleware)
    assert not isinstance(Plain("p", seen), RouteScopedMiddleware)


async def test_a_handler_wrapper_in_the_middle_wraps_its_part_and_keeps_its_place():
    seen: list[str] = []
    app, wrapping = chained_app(seen)
    await app.start()
    try:
        client = TestClient(app)
        response = await client.get("/ping")
        assert (response.status, await response.text()) == (200, "pong")
        assert seen == ["init in", "scoped in", "wrapping in", "message in", "message out", "wrapping out",
                        "scoped out", "init out"]  # fmt: skip
        seen.clear()
        await client.get("/other")
        assert seen == ["init in", "wrapping in", "message in", "message out", "wrapping out", "init out"]
    finally:
        await app.stop()
    # Wrapped once per route at start, then called straight: never through BlackSheep's wrapper and __call__.
    assert wrapping.called == 0
    assert len(wrapping.wrapped) >= 2


async def test_a_chained_route_is_still_known_by_its_own_handler():
    app, _wrapping = chained_app([])
    await app.start()
    try:
        ours = [route for route in app.router if route.pattern in {b"/ping", b"/other"}]
        roots = {route.pattern: route.handler.root_fn.__name__ for route in ours}
        assert roots == {b"/ping": "ping", b"/other": "other"}
    finally:
        await app.stop()
