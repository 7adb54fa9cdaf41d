"""The client address: proxy headers only from trusted peers, read right to left; IPv6 by prefix."""

from __future__ import annotations

import pytest
from blacksheep import Request

from sheepfold_ratelimit import ClientAddress


def request_from(peer: str, *headers: tuple[str, str]) -> Request:
    request = Request("GET", b"/", [(name.encode(), value.encode()) for name, value in headers])
    request.scope = {"type": "http", "client": (peer, 50000)}
    return request


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say():
    address = ClientAddress()
    assert address.of(request_from("198.51.100.7", ("X-Forwarded-For", "203.0.113.1"))) == "198.51.100.7"
    assert address.of(request_from("198.51.100.7", ("Forwarded", "for=203.0.113.1"))) == "198.51.100.7"


def test_an_untrusted_peer_cannot_choose_its_key_with_a_forwarded_header():
    address = ClientAddress(["10.0.0.0/8"])
    assert address.of(request_from("198.51.100.7", ("X-Forwarded-For", "203.0.113.1"))) == "198.51.100.7"


def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client():
    address = ClientAddress(["10.0.0.0/8"])
    # The client put "1.2.3.4" in the header itself; the proxies appended what they saw.
    request = request_from("10.0.0.2", ("X-Forwarded-For", "1.2.3.4, 203.0.113.9, 10.0.0.1"))
    assert address.of(request) == "203.0.113.9"


def test_repeated_forwarded_for_headers_are_read_as_one_list():
    address = ClientAddress(["10.0.0.0/8"])
    request = request_from("10.0.0.2", ("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-For", "203.0.113.9"))
    assert address.of(request) == "203.0.113.9"


def test_the_forwarded_header_is_read_with_ports_and_brackets():
    address = ClientAddress(["10.0.0.0/8"])
    request = request_from("10.0.0.2", ("Forwarded", 'for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.1'))
    assert address.of(request) == "2001:db8:cafe::/64"
    assert address.of(request_from("10.0.0.2", ("Forwarded", "for=192.0.2.60:8080"))) == "192.0.2.60"


def test_when_every_hop_is_trusted_the_left_most_is_the_client():
    address = ClientAddress(["10.0.0.0/8"])
    assert address.of(request_from("10.0.0.2", ("X-Forwarded-For", "10.0.0.9, 10.0.0.1"))) == "10.0.0.9"


@pytest.mark.parametrize(
    ("prefix", "peer", "expected"),
    [
        (64, "2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        (64, "2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        (56, "2001:db8:1:2ff::1", "2001:db8:1:200::/56"),
        (128, "2001:db8::1", "2001:db8::1/128"),
        (64, "::ffff:192.0.2.1", "192.0.2.1"),
    ],
)
def test_ipv6_clients_are_grouped_by_the_configured_prefix(prefix, peer, expected):
    assert ClientAddress(ipv6_prefix=prefix).of(request_from(peer)) == expected


def test_a_connection_without_a_peer_address_is_counted_under_none_and_trusts_no_header():
    # uvicorn on a Unix socket gives no client: BlackSheep's request.client_ip raised TypeError, a 500.
    request = Request("GET", b"/", [(b"x-forwarded-for", b"203.0.113.1")])
    request.scope = {"type": "http", "client": None}
    assert ClientAddress(["10.0.0.0/8"]).of(request) == ""
    assert ClientAddress().of(request) == ""
