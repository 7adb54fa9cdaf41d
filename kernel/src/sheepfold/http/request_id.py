"""Request ids: taken from a trusted proxy's ``X-Request-ID`` or generated, and known for the whole request.

The id of the request being handled is in a context variable
(:func:`current_request_id`), so log records, problem+json bodies and
plugins read it without the request at hand. It is set by the kernel's
outermost middleware and left set until the request's task ends (uvicorn
runs each request in a task of its own), so uvicorn's access line, written
while the response is sent, still carries it.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import os
import re
import secrets
from collections.abc import Iterable
from contextvars import ContextVar

from blacksheep import Request

#: The header a request id is read from (when the peer is trusted) and echoed in.
REQUEST_ID_HEADER = b"x-request-id"
#: What an offered id may be: 1 to 128 characters of letters, digits and ``-_.:+/=@``. Anything else
#: (too long, spaces, quotes, control characters) is replaced by a generated id, never echoed.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9\-_.:+/=@]{1,128}")

_current: ContextVar[str | None] = ContextVar("sheepfold_request_id", default=None)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def current_request_id() -> str | None:
    """The id of the request being handled in this context, or None outside a request."""
    return _current.get()


class _Generator:
    """32 hex digits: 16 random per process, then a counter. Unique without a system call per request."""

    def __init__(self) -> None:
        self.reseed()
        # A forked child would repeat its parent's ids: give it its own prefix.
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


new_request_id = _Generator()
"""A fresh request id (``"3f9c0a6b1e2d4c5f000000000000002a"``); unique across processes, not secret."""


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``values`` (``"10.0.0.0/8"``, ``"127.0.0.1"``) as networks; ValueError naming a bad one."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


class RequestIds:
    """Chooses each request's id: a trusted proxy's ``X-Request-ID`` when it is valid, else a new one.

    ``trusted_proxies`` (``request_id.trusted_proxies``) are the networks whose
    peers may name the id; an empty tuple (the default) trusts no one, and the
    header is then not even read. An offered id that does not match
    :data:`VALID_REQUEST_ID` is replaced by a generated one.
    """

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.trusted = parse_networks(trusted_proxies)
        self._is_trusted = functools.lru_cache(maxsize=4096)(self._in_trusted)

    def assign(self, request: Request) -> str:
        """The id of ``request``, now also :func:`current_request_id` in this context."""
        request_id = None
        if self.trusted:
            offered = request.get_first_header(REQUEST_ID_HEADER)
            if offered is not None and self._is_trusted(request.client_ip):
                text = offered.decode("latin-1")
                if VALID_REQUEST_ID.fullmatch(text):
                    request_id = text
        if request_id is None:
            request_id = new_request_id()
        _current.set(request_id)
        return request_id

    def _in_trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)
