"""The client address a request is limited by: proxies' headers only from trusted proxies, IPv6 by prefix."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from blacksheep import Request

from sheepfold.http.request_fields import peer_address

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ClientAddress:
    """Finds the address of the client behind a request, grouped for rate limiting.

    ``X-Forwarded-For`` and ``Forwarded`` are read only when the immediate
    peer is in ``trusted_proxies``; then the hops are read right to left,
    skipping trusted proxies, and the first untrusted one is the client (the
    left-most entries are whatever the client sent, so they are never taken
    on trust). An IPv6 client is reported as its ``/ipv6_prefix`` network,
    because one subscriber usually holds a whole /64 and could otherwise
    rotate through addresses to get a fresh limit each time.
    """

    def __init__(self, trusted_proxies: Iterable[str] = (), ipv6_prefix: int = 64) -> None:
        self.trusted: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(net, strict=False) for net in trusted_proxies)
        self.ipv6_prefix = ipv6_prefix
        self.group = functools.lru_cache(maxsize=4096)(self._group)
        self._is_trusted = functools.lru_cache(maxsize=4096)(self._in_trusted)

    def of(self, request: Request) -> str:
        """The grouped client address of ``request`` (``"203.0.113.9"``, ``"2001:db8:1:2::/64"``)."""
        peer = peer_address(request)
        if self.trusted and self._is_trusted(peer):
            hops = _forwarded_hops(request)
            for hop in reversed(hops):
                if not self._is_trusted(hop):
                    return self.group(hop)
            if hops:
                return self.group(hops[0])
        return self.group(peer)

    def _in_trusted(self, text: str) -> bool:
        address = _parse(text)
        return address is not None and any(address in network for network in self.trusted)

    def _group(self, text: str) -> str:
        address = _parse(text)
        if address is None:
            return text
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                return str(address.ipv4_mapped)
            return str(ipaddress.IPv6Network((address, self.ipv6_prefix), strict=False))
        return str(address)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_hops(request: Request) -> list[str]:
    """Client addresses from ``Forwarded`` (RFC 7239) if present, else from ``X-Forwarded-For``, in order."""
    forwarded = request.get_headers(b"forwarded")
    if forwarded:
        hops = []
        for header in forwarded:
            for element in header.decode("latin-1").split(","):
                for pair in element.split(";"):
                    name, _, value = pair.strip().partition("=")
                    if name.lower() == "for":
                        hops.append(_strip_port(value.strip().strip('"')))
        return hops
    return [
        _strip_port(hop.strip())
        for header in request.get_headers(b"x-forwarded-for")
        for hop in header.decode("latin-1").split(",")
        if hop.strip()
    ]


def _strip_port(value: str) -> str:
    if value.startswith("["):  # "[2001:db8::1]:4711"
        return value[1:].partition("]")[0]
    if value.count(":") == 1:  # "192.0.2.1:4711"
        return value.partition(":")[0]
    return value
