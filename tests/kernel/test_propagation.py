"""The kernel's side of tracing: ASGI wrappers, and a carrier handed over with work and continued where it runs."""

from __future__ import annotations

import contextlib

import httpx
from blacksheep import Router, text

from sheepfold import create_app
from sheepfold.app import WrappedPlatformApplication
from tests.kernel.plugins_for_tests import plugin


async def hello() -> object:
    return text("hello")


def routes(router: Router) -> None:
    router.add_get("/hello", hello)


async def test_hook_wrap_asgi_serves_every_request_through_the_wrappers_in_call_order():
    seen: list[str] = []

    def wrapper(name):
        def wrap(asgi):
            async def wrapped(scope, receive, send):
                if scope["type"] == "http":
                    seen.append(name)
                await asgi(scope, receive, send)

            return wrapped

        return wrap

    app = create_app(
        load_entry_points=False,
        plugins=[
            plugin("routes", sheepfold_register_routes=routes),
            plugin("inner", sheepfold_wrap_asgi=wrapper("inner")),
            plugin("declines", sheepfold_wrap_asgi=lambda asgi: None),
            plugin("outer", sheepfold_wrap_asgi=wrapper("outer")),
        ],
    )
    assert isinstance(app, WrappedPlatformApplication)
    await app.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/hello")  # through the ASGI entry (BlackSheep's TestClient skips it)
    await app.stop()
    assert response.status_code == 200 and response.text == "hello"
    assert seen == ["outer", "inner"]


def test_an_app_nobody_wraps_is_served_as_it_is():
    app = create_app(load_entry_points=False, plugins=[plugin("declines", sheepfold_wrap_asgi=lambda asgi: None)])
    assert type(app) is not WrappedPlatformApplication


def test_without_a_propagation_plugin_the_carrier_is_empty_and_continuing_does_nothing():
    platform = create_app(load_entry_points=False).platform
    assert platform.propagation.enabled is False
    assert platform.propagation.carrier() == {}
    with platform.propagation.continued({"traceparent": "x"}, "job greet") as inside:
        assert inside is None


def test_hook_propagation_send_fills_the_carrier_from_every_plugin():
    platform = create_app(
        load_entry_points=False,
        plugins=[
            plugin("a", sheepfold_propagation_send=lambda carrier: carrier.update(traceparent="00-abc")),
            plugin("b", sheepfold_propagation_send=lambda carrier: carrier.update(tenant="t1")),
        ],
    ).platform
    assert platform.propagation.enabled is True
    assert platform.propagation.carrier() == {"traceparent": "00-abc", "tenant": "t1"}


def test_hook_propagation_receive_runs_carried_work_inside_the_first_answer():
    events: list[tuple[object, ...]] = []

    @contextlib.contextmanager
    def continued(carrier, operation, attributes, linked):
        events.append(("enter", dict(carrier), operation, attributes, linked))
        yield "span"
        events.append(("exit",))

    platform = create_app(
        load_entry_points=False,
        plugins=[
            plugin("declines", sheepfold_propagation_receive=lambda carrier: None),
            plugin("tracer", sheepfold_propagation_receive=continued),
        ],
    ).platform
    with platform.propagation.continued({"traceparent": "00-abc"}, "job greet", {"job.try": 2}, linked=True) as inside:
        assert inside == "span"
        events.append(("work",))
    assert events == [
        ("enter", {"traceparent": "00-abc"}, "job greet", {"job.try": 2}, True),
        ("work",),
        ("exit",),
    ]


def test_hook_span_wraps_a_backend_call_in_the_first_answer():
    calls: list[tuple[str, dict]] = []

    @contextlib.contextmanager
    def span(operation, attributes):
        calls.append((operation, attributes))
        yield "client span"

    platform = create_app(load_entry_points=False, plugins=[plugin("tracer", sheepfold_span=span)]).platform
    assert platform.propagation.enabled is True
    with platform.propagation.span("PUBLISH", {"db.system": "redis"}) as inside:
        assert inside == "client span"
    assert calls == [("PUBLISH", {"db.system": "redis"})]
