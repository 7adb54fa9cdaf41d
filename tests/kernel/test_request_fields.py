"""A cookie and the peer's address, read so that no value a client or server sends raises."""

from __future__ import annotations

from typing import Any

from blacksheep import Request

from sheepfold.http.request_fields import cookie, peer_address


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
