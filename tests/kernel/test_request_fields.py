"""A cookie, the peer's address and the Origin, read so that no value a client or server sends raises."""

from __future__ import annotations

from typing import Any

import pytest
from blacksheep import Request

from sheepfold.http.request_fields import cookie, origin_is_this_host, peer_address


def request_with(*cookie_headers: bytes, client: Any = ("203.0.113.9", 5000)) -> Request:
    request = Request("GET", b"/", [(b"cookie", header) for header in cookie_headers])
    request.scope = {"type": "http", "client": client}
    return request


def test_a_cookie_is_read_as_blacksheep_reads_it():
    request = request_with(b"a=1; session=abc%2Fdef; b=2")
    assert (cookie(request, "session"), cookie(request, "a"), cookie(request, "missing")) == ("abc/def", "1", None)


def test_a_pair_that_is_not_utf8_is_skipped_and_the_others_still_count():
    request = request_with(b"a=\xff; session=abc; \xfe=x; b=2")
    assert (cookie(request, "session"), cookie(request, "b"), cookie(request, "a")) == ("abc", "2", None)


def test_of_duplicated_names_the_last_wins_across_headers():
    assert cookie(request_with(b"session=a; session=b", b"x=\xff; session=c"), "session") == "c"


def test_the_peer_is_the_connections_client_and_empty_without_one():
    assert peer_address(request_with()) == "203.0.113.9"
    assert peer_address(request_with(client=None)) == ""  # uvicorn on a Unix socket
    assert peer_address(Request("GET", b"/", [])) == ""  # no scope at all


@pytest.mark.parametrize(
    ("origin", "this_host"),
    [
        (b"https://shop.example:8443", True),
        (b" HTTP://Shop.Example:8443/ ", True),
        (b"https://shop.example", False),  # another port
        (b"https://evil.example:8443", False),
        (b"ftp://shop.example:8443", False),
        (b"null", False),
        (b"http://[::1", False),  # urlsplit cannot read it
        (b"http://[zz]", False),
    ],
)
def test_an_origin_is_this_host_only_as_an_http_url_of_the_host_header(origin, this_host):
    request = Request("GET", b"/", [(b"host", b"shop.example:8443")])
    assert origin_is_this_host(request, origin) is this_host


def test_without_a_host_header_no_origin_is_this_host():
    assert origin_is_this_host(Request("GET", b"/", []), b"http://") is False
