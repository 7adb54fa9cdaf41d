"""The kernel's HTTP API: health, admin token, plugins, metrics, OpenAPI and problem+json errors."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from blacksheep import FromJSON, Request
from blacksheep.testing import TestClient

from sheepfold import ComponentHealth, Status, create_app, problem
from tests.kernel.plugins_for_tests import plugin
from tests.support.admin import ADMIN_HEADERS

TOKEN = "an-admin-token-of-thirty-two-chars-or-more"


def routes(router):
    async def echo(data: FromJSON[dict]) -> dict:
        return data.value

    async def upload(request: Request) -> dict:
        return {"size": len(await request.read() or b"")}

    async def crash() -> dict:
        raise RuntimeError("database password is hunter2")

    router.add_post("/echo", echo)
    router.add_post("/upload", upload)
    router.add_get("/crash", crash)


async def started(settings=None, plugins=()):
    app = create_app(
        settings or {}, plugins=[plugin("routes", sheepfold_register_routes=routes), *plugins], load_entry_points=False
    )
    await app.start()
    return app, TestClient(app)


@pytest.fixture
async def client():
    app, client = await started({"http": {"max_body_size": 64}})
    yield client
    await app.stop()


async def test_live_touches_nothing_and_answers_ok(client):
    response = await client.get("/health/live")
    assert response.status == 200 and await response.json() == {"status": "ok"}


async def test_health_reports_instance_components_and_capabilities(client):
    report = await (await client.get("/health", headers=ADMIN_HEADERS)).json()
    assert report["status"] == "ok"
    assert report["instance"]
    # The memory adapters' sweepers (state, cache, ratelimit, sessions, jobs), the memory job scheduler,
    # the event-loop lag monitor and the fleet's heartbeat.
    assert report["background_tasks"] == 8
    assert report["components"]["memory"]["status"] == "ok"
    assert report["capabilities"]["cache"] == {
        "configured": "memory",
        "fallback": "memory",
        "active": "memory",
        "phase": "backend",
        "switches": 0,
        "last_switch_at": None,
        "last_recovery": None,
    }
    assert set(report["event_loop"]["lag"]) == {"current_seconds", "worst_seconds"}


async def test_hook_health_failure_costs_only_that_plugins_part():
    def broken(platform):
        raise RuntimeError("boom")

    async def hanging(platform):
        await asyncio.sleep(30)

    def fine(platform):
        return ComponentHealth("fine", Status.OK)

    app, client = await started(
        {"health": {"timeout": 0.2}},
        plugins=[
            plugin("broken", sheepfold_health=broken),
            plugin("hanging", sheepfold_health=hanging),
            plugin("fine", sheepfold_health=fine),
        ],
    )
    response = await client.get("/health", headers=ADMIN_HEADERS)
    report = await response.json()
    assert response.status == 200 and report["status"] == "degraded"
    assert report["components"]["fine"]["status"] == "ok"
    assert report["components"]["broken"] == {"status": "down", "required": False, "error": "health check RuntimeError"}
    assert report["components"]["hanging"]["error"] == "health check timed out"
    await app.stop()


async def test_a_required_component_down_makes_ready_and_health_503():
    down = plugin("db", sheepfold_health=lambda: ComponentHealth("db", Status.DOWN, required=True))
    app, client = await started(plugins=[down])
    ready = await client.get("/health/ready")
    assert ready.status == 503 and await ready.json() == {"status": "down"}
    assert (await client.get("/health")).status == 503
    assert (await client.get("/health/live")).status == 200
    await app.stop()


async def test_admin_token_guards_details_plugins_and_metrics():
    app, client = await started({"admin": {"token": TOKEN}})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert await (await client.get("/health")).json() == {"status": "ok"}
    assert "components" in await (await client.get("/health", headers=auth)).json()
    for path in ("/-/plugins", "/metrics"):
        refused = await client.get(path, headers={"Authorization": "Bearer wrong"})
        assert refused.status == 401
        assert refused.content_type() == b"application/problem+json"
        assert (await client.get(path, headers=auth)).status == 200
    assert await (await client.get("/health/ready")).json() == {"status": "ok"}
    await app.stop()


async def test_plugins_route_lists_name_distribution_version_hooks_enabled(client):
    plugins = await (await client.get("/-/plugins", headers=ADMIN_HEADERS)).json()
    core = next(p for p in plugins if p["name"] == "sheepfold.core")
    assert core["distribution"] == "sheepfold" and core["enabled"] is True and core["required"] is True
    assert "sheepfold_register_routes" in core["hooks"]


async def test_metrics_count_requests_by_method_and_status(client):
    await client.get("/health/live")
    await client.get("/nowhere")
    text = await (await client.get("/metrics", headers=ADMIN_HEADERS)).text()
    assert 'sheepfold_http_requests_total{method="GET",status="200"}' in text
    assert 'sheepfold_http_requests_total{method="GET",status="404"} 1.0' in text
    assert "sheepfold_http_request_duration_seconds_bucket" in text


class NotNow(Exception):
    """An error an exception handler answers 503 (as the database plugin maps "the database is starting up")."""


def not_now_routes(router):
    async def busy() -> dict:
        raise NotNow()

    router.add_get("/busy", busy)


async def test_metrics_count_the_status_the_client_received_not_the_exception():
    async def answer_503(app, request, error):
        return problem(503, "not now")

    app, client = await started(plugins=[plugin("busy", sheepfold_register_routes=not_now_routes)])
    app.exceptions_handlers[NotNow] = answer_503
    try:
        assert (await client.get("/busy")).status == 503
        assert (await client.get("/crash")).status == 500
        text = await (await client.get("/metrics", headers=ADMIN_HEADERS)).text()
        assert 'sheepfold_http_requests_total{method="GET",status="503"} 1.0' in text
        assert 'sheepfold_http_requests_total{method="GET",status="500"} 1.0' in text
    finally:
        await app.stop()


async def test_openapi_and_docs_are_served(client):
    spec = await (await client.get("/openapi.json")).json()
    assert "/health" in spec["paths"] and "/echo" in spec["paths"]
    redirect = await client.get("/docs")
    assert redirect.status == 301 and redirect.headers.get_first(b"location") == b"/docs/"
    page = await client.get("/docs/")
    assert page.status == 200 and b"swagger" in (await page.read()).lower()


async def problem_of(response, status):
    assert response.status == status
    assert response.content_type() == b"application/problem+json"
    body = await response.json()
    assert body["status"] == status and body["title"]
    return body


async def test_an_unknown_route_is_a_404_problem(client):
    body = await problem_of(await client.get("/no/such/route"), 404)
    assert body["instance"] == "/no/such/route"


async def test_a_malformed_json_body_is_a_400_problem(client):
    from blacksheep.contents import Content

    response = await client.post("/echo", content=Content(b"application/json", b'{"unclosed": '))
    await problem_of(response, 400)


@pytest.fixture
async def asgi_client():
    """An httpx client speaking real ASGI to the app (BlackSheep's TestClient bypasses ASGI receive)."""
    app, _client = await started({"http": {"max_body_size": 64}})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client
    await app.stop()


async def test_an_oversized_body_is_a_413_problem(asgi_client):
    response = await asgi_client.post("/upload", content=b"x" * 65)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "64 bytes" in response.json()["detail"]
    assert (await asgi_client.post("/upload", content=b"x" * 64)).json() == {"size": 64}


async def test_an_oversized_chunked_body_is_a_413_problem(asgi_client):
    async def chunks():
        for _ in range(10):
            yield b"x" * 10

    response = await asgi_client.post("/upload", content=chunks())
    assert response.status_code == 413 and response.json()["status"] == 413


async def test_a_crash_is_a_500_problem_that_reveals_nothing_and_logs_the_traceback(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = await client.get("/crash")
    body = await problem_of(response, 500)
    assert "hunter2" not in str(body) and "RuntimeError" not in str(body)
    assert "hunter2" in caplog.text and "Traceback" in caplog.text


async def test_a_handler_that_returns_nothing_is_counted_as_the_204_the_client_receives():
    async def nothing() -> None:
        return None

    app, client = await started(
        plugins=[plugin("nothing", sheepfold_register_routes=lambda router: router.add_get("/nothing", nothing))]
    )
    try:
        response = await client.get("/nothing")
        assert response.status == 204 and response.headers.get_first(b"x-request-id")
        text = await (await client.get("/metrics", headers=ADMIN_HEADERS)).text()
        assert 'sheepfold_http_requests_total{method="GET",status="204"} 1.0' in text
    finally:
        await app.stop()
