"""What ``/openapi.json`` says about each route of every shipped plugin (schemathesis checks it against the app)."""

from __future__ import annotations

import pytest
import pytest_asyncio
from blacksheep.server.bindings import JSONBinder
from blacksheep.testing import TestClient

from tests.support.full_app import body_routes, started_full_app


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served():
    app = await started_full_app()
    document = await (await TestClient(app).get("/openapi.json")).json()
    yield app, document
    await app.stop()


pytestmark = pytest.mark.asyncio(loop_scope="module")


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


async def test_every_operation_documents_a_success_and_a_summary(served):
    _app, document = served
    for path, method, operation in operations(document):
        assert any(status.startswith("2") for status in operation["responses"]), (method, path)
        assert operation.get("summary"), (method, path)


async def test_every_route_that_reads_a_body_documents_its_schema_and_the_body_errors(served):
    app, document = served
    reading = {
        ("post", "/example/login"),
        ("post", "/example/jobs"),
        ("post", "/example/guestbook"),
        ("post", "/example/realtime/jobs"),
        ("post", "/realtime/publish"),
        ("post", "/console/sign-in"),
    }
    for method, path in reading:
        operation = document["paths"][path][method]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema, (method, path)
        assert {"400", "413", "415", "422"} <= set(operation["responses"]), (method, path)
        assert operation["responses"]["422"]["content"]["application/problem+json"]
    # Every other body-capable route takes none: nothing undocumented is read.
    undocumented = {(m.lower(), p) for m, p in body_routes(app.router)} - reading
    for method, path in undocumented:
        operation = document["paths"][path.replace("/x", "/{job_id}")][method]
        assert "requestBody" not in operation, (method, path)


async def test_a_declared_body_schema_carries_its_constraints(served):
    _app, document = served
    schemas = document["components"]["schemas"]
    word_count = schemas["WordCount"]
    assert word_count["required"] == ["text"] and word_count["additionalProperties"] is False
    assert word_count["properties"]["text"] == {"type": "string", "minLength": 1, "maxLength": 10_000}
    assert word_count["properties"]["priority"] == {"enum": ["high", "normal", "low"]}


async def test_admin_routes_declare_the_bearer_token_and_401(served):
    _app, document = served
    assert document["components"]["securitySchemes"]["adminToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The admin.token setting, as a Bearer token.",
    }
    admin = [(p, m, o) for p, m, o in operations(document) if p.startswith("/-/") or p == "/metrics"]
    assert len(admin) >= 6
    for path, method, operation in admin:
        assert operation["security"] == [{"adminToken": []}], (method, path)
        assert "application/problem+json" in operation["responses"]["401"]["content"], (method, path)


async def test_limited_routes_document_429_and_the_ratelimit_headers_exempt_ones_do_not(served):
    _app, document = served
    limited = document["paths"]["/example/hello"]["get"]["responses"]
    assert "Retry-After" in limited["429"]["headers"]
    assert {"RateLimit-Policy", "RateLimit"} <= set(limited["200"]["headers"])
    exempt = document["paths"]["/health/live"]["get"]["responses"]
    assert "429" not in exempt and "headers" not in exempt["200"]


async def test_no_route_binds_blacksheeps_own_json_binder(served):
    app, _document = served
    for method, routes in app.router.routes.items():
        for route in routes:
            handler = getattr(route.handler, "root_fn", route.handler)
            binders = getattr(handler, "binders", [])
            assert not any(isinstance(b, JSONBinder) for b in binders), (method, route.pattern)
