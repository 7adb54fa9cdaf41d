"""No request header gets a 5xx: a corpus of hostile headers, query strings and peers thrown at every route.

The full app (every shipped plugin on memory, tracing on and exporting
nowhere, a trusted proxy network) is called through its ASGI entry with raw
scopes, so headers can be bytes no HTTP client would send, repeated, or a
megabyte long, and the peer can be missing. Each answer is below 500, an error
is problem+json, and nothing is logged above INFO or with a traceback: a
client's bad header is its mistake, like a bad body, and must not write to
the operator's logs either.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sheepfold import create_app
from tests.support.full_app import ADMIN_TOKEN, SETTINGS, body_routes

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
AUTHORIZATION = (b"authorization", b"Bearer " + ADMIN_TOKEN.encode())
SIGN_IN = json.dumps({"token": ADMIN_TOKEN}).encode()
Headers = list[tuple[bytes, bytes]]

#: Each a set of headers sent together: what a hostile client, or a broken proxy, may send.
CORPUS: dict[str, Headers] = {
    # Cookies: not UTF-8 (BlackSheep's request.cookies raises on it), duplicated, huge, tampered.
    "cookie not UTF-8": [(b"cookie", b"a=\xff; __Host-session=\xfe; __Host-sheepfold_console=\xb2.x.y")],
    "cookie name not UTF-8": [(b"cookie", b"\xff=1; __Host-session=x")],
    "cookies duplicated": [(b"cookie", b"__Host-session=a; __Host-session=b"), (b"cookie", b"__Host-session=c")],
    "cookie of a megabyte": [(b"cookie", b"__Host-session=" + b"A" * 1_000_000)],
    "session signature not ASCII": [(b"cookie", ("__Host-session=" + "A" * 43 + "." + "é" * 43).encode())],
    "session signature percent-encoded": [(b"cookie", ("__Host-session=" + "A" * 43 + "." + "%E9" * 43).encode())],
    "console expiry a superscript digit": [(b"cookie", "__Host-sheepfold_console=².aaaaaaaaaaaa.x".encode())],
    "console expiry of 5000 digits": [(b"cookie", b"__Host-sheepfold_console=" + b"9" * 5000 + b".aaaaaaaaaaaa.x")],
    "console signature not ASCII": [(b"cookie", "__Host-sheepfold_console=99999999999.aaaaaaaaaaaa.éé".encode())],
    # W3C trace context and baggage: garbage, duplicated, oversized, not ASCII.
    "traceparent garbage": [(b"traceparent", b"zz")],
    "traceparent duplicated": [(b"traceparent", TRACEPARENT), (b"traceparent", b"garbage")],
    "traceparent not ASCII": [(b"traceparent", "00-éé-b7-01".encode())],
    "traceparent bytes": [(b"traceparent", b"\xff\xfe\x00")],
    "traceparent all zeros": [(b"traceparent", b"00-" + b"0" * 32 + b"-" + b"0" * 16 + b"-01")],
    "traceparent version ff": [(b"traceparent", b"ff" + TRACEPARENT[2:])],
    "traceparent of a megabyte": [(b"traceparent", b"00-" + b"a" * 1_000_000)],
    "tracestate garbage": [(b"traceparent", TRACEPARENT), (b"tracestate", b"=,=,\xff,a=b=c," * 1000)],
    "tracestate of 300 headers": [(b"traceparent", TRACEPARENT), *((b"tracestate", b"k%d=v" % i) for i in range(300))],
    "tracestate of 40 members": [
        (b"traceparent", TRACEPARENT),
        (b"tracestate", b",".join(b"k%d=v" % i for i in range(40))),
    ],
    "baggage of a megabyte": [(b"baggage", b"k=" + b"v" * 1_000_000)],
    "baggage of 5000 members": [(b"baggage", b",".join(b"k%d=v" % i for i in range(5000)))],
    "baggage percent tricks": [(b"baggage", b"k=%ff%fe%00;p=%zz, =, k2, ;;;")],
    "baggage bytes": [(b"baggage", b"\xff=\xfe")],
    "baggage duplicated": [(b"baggage", b"a=1"), (b"baggage", b"a=2"), (b"baggage", b"\x00")],
    # Proxies' headers, from an untrusted peer and from a trusted one (see PEERS).
    "x-forwarded-for garbage": [(b"x-forwarded-for", b"1.2.3.4, \xff, ::1, garbage, " + b"9" * 5000)],
    "x-forwarded-for bytes": [(b"x-forwarded-for", b"\xff\xfe")],
    "x-forwarded-for scoped": [(b"x-forwarded-for", b"fe80::1%eth0, ::ffff:1.2.3.4")],
    "forwarded garbage": [(b"forwarded", b'for="[::1]:80";proto=https;by=\xff, for=_hidden, for=unknown, for="[')],
    "x-request-id garbage": [(b"x-request-id", b"\xff\n\x00" + b"a" * 100_000)],
    # Everything else a handler or middleware may read.
    "host garbage": [(b"host", b"\xff\xfe:99999999999")],
    "accept garbage": [(b"accept", b"\xff;q=nan, text/html;q=1e999")],
    "origin garbage": [(b"origin", b"\xff://[::1")],
    "origin not a URL": [(b"origin", b"http://[::1")],  # urlsplit raises ValueError on it
    "origin bad address": [(b"origin", b"http://[zz]")],
    "conditional garbage": [(b"if-none-match", b"\xff"), (b"if-modified-since", b"\xff")],
    "content-type garbage": [(b"content-type", b"\xff/\xfe; charset=\xff")],
    "authorization garbage": [(b"authorization", b"Bearer \xff\xfe")],
    "authorization no scheme": [(b"authorization", b"\xff")],
}
QUERIES = [b"a=%ff", b"%ff=%fe", b"next=%00", b"limit=-1", b"limit=99999999999999999999999", b"x=" + b"9" * 5000,
           b"&&&==&", b"a[]=1&a[]=2", b"page=1e999", b"limit=nan"]  # fmt: skip
#: The ASGI ``client`` of the connection: a direct client, a trusted proxy, IPv4-mapped, none (a Unix socket).
PEERS: list[Any] = [("203.0.113.9", 50000), ("10.0.0.2", 50000), ("::ffff:10.0.0.2", 1), ("fe80::1%eth0", 1), None]


async def call(
    app: Any, path: str, headers: Headers, *, method: str = "GET", body: bytes = b"", query: bytes = b"",
    client: Any = PEERS[0],
) -> tuple:  # fmt: skip
    """``(status, content type, body)`` of one request through the app's ASGI entry."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
        "headers": [(b"host", b"testserver"), *headers], "client": client, "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    answer: dict[str, Any] = {"body": b"", "headers": []}
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if requested:
            await asyncio.Event().wait()  # the client stays connected
        requested = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await asyncio.wait_for(app(scope, receive, send), 10)
    content_type = dict((name.lower(), value) for name, value in answer["headers"]).get(b"content-type", b"")
    return answer["status"], content_type, answer["body"]


def check(answer: tuple) -> None:
    status, content_type, body = answer
    assert status < 500, body[:300]
    if status >= 400 and status != 404:  # BlackSheep's 404 of a path no route matches is plain text
        assert content_type == b"application/problem+json", body[:200]
        assert json.loads(body)["status"] == status


def get_paths(app: Any) -> Iterator[str]:
    for method, routes in app.router.routes.items():
        if method == b"GET":
            for route in routes:
                yield re.sub(r"\{[^}]*\}", "x", route.mustache_pattern)


@pytest.fixture(scope="module")
def send():
    """Send one GET to the running full app, as :func:`call` (own event loop: one app for the module)."""
    from sheepfold_database import Migrations

    settings = {
        **SETTINGS,
        "ratelimit": {**SETTINGS["ratelimit"], "trusted_proxies": ["10.0.0.0/8"]},
        "request_id": {"trusted_proxies": ["10.0.0.0/8"]},
        "telemetry": {"exporter": "none"},  # tracing on: the OpenTelemetry middleware reads the trace headers
    }
    loop = asyncio.new_event_loop()
    app = create_app(settings)
    loop.run_until_complete(Migrations.of(app.platform).upgrade())
    loop.run_until_complete(app.start())

    def send_one(path: str, headers: Headers, **options: Any) -> tuple:
        return loop.run_until_complete(call(app, path, headers, **options))

    send_one.paths = sorted(set(get_paths(app)))  # type: ignore[attr-defined]
    send_one.body_routes = sorted(body_routes(app.router))  # type: ignore[attr-defined]
    yield send_one
    loop.run_until_complete(app.stop())
    loop.close()


@pytest.fixture(autouse=True)
def no_loud_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    # The call phase's records: after the yield, caplog.records holds only the teardown's (none).
    loud = [r for r in caplog.get_records("call") if r.levelno > logging.INFO or r.exc_info]
    assert not loud, [(r.name, r.levelname, r.getMessage()[:300]) for r in loud]


@pytest.mark.parametrize("name", CORPUS)
def test_no_hostile_header_gets_a_5xx_on_any_get_route(send, name):
    for path in send.paths:
        check(send(path, [AUTHORIZATION, *CORPUS[name]]))
    # Without the token: the admin guard, and the console's cookie, decide.
    check(send("/-/console", CORPUS[name]))
    check(send("/-/console/api/fleet", CORPUS[name]))


@pytest.mark.parametrize("name", CORPUS)
def test_no_hostile_header_gets_a_5xx_on_any_route_that_takes_a_body(send, name):
    for method, path in send.body_routes:
        headers = [AUTHORIZATION, (b"content-type", b"application/json"), *CORPUS[name]]
        # A body each handler takes, so that what it reads of the headers is read (the console's Origin check).
        body = SIGN_IN if path == "/console/sign-in" else b'{"user": "u"}' if path == "/example/login" else b"{}"
        check(send(path, headers, method=method, body=body))


@pytest.mark.parametrize("client", PEERS, ids=repr)
def test_no_peer_gets_a_5xx(send, client):
    forwarded = [(b"x-forwarded-for", b"198.51.100.1"), (b"x-request-id", b"from-the-proxy")]
    for path in ("/example/limited", "/example/hello", "/example/whoami", "/health", "/-/console"):
        check(send(path, [], client=client))
        check(send(path, forwarded, client=client))


def test_no_hostile_query_string_gets_a_5xx(send):
    for path in send.paths:
        for query in QUERIES:
            check(send(path, [AUTHORIZATION], query=query))


def test_a_path_that_is_not_utf8_gets_a_4xx(send):
    for path in ("/%ff", "/-/%ff", "/-/console/api/jobs/%ff", "/console/assets/..%2f..%2fetc%2fpasswd"):
        check(send(path, [AUTHORIZATION]))
