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

from sheepfold.http.request_fields import peer_address

#: The header a request id is read from (when the peer is trusted) and echoed in.
REQUEST_ID_HEADER = b"x-request-id"
#: What an offered id may be: 1 to 128 characters of letters, digits and ``-_.:+/=@``. Anything else
#: (too long, spaces, quotes, control characters, non-ASCII) is replaced by a generated id, never echoed.
VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9\-_.:+/=@]{1,128}")

#: The id of the request being handled, as the bytes of its header (set by the kernel's middleware; read it with
#: :func:`current_request_id`). Bytes, so that the request path neither encodes nor decodes it.
request_id_var: ContextVar[bytes | None] = ContextVar("sheepfold_request_id", default=None)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def current_request_id() -> str | None:
    """The id of the request being handled in this context, or None outside a request."""
    value = request_id_var.get()
    return None if value is None else value.decode("ascii")


class RequestIdGenerator:
    """Request ids: 16 random hex digits per process, then a counter in hex. Unique without a system call.

    The kernel's middleware reads :attr:`prefix` and :attr:`counter` itself
    (``prefix + b"%x" % next(counter)``), which costs a request less than a
    call; :meth:`new` is the same for everyone else. Not secret.
    """

    def __init__(self) -> None:
        self.reseed()
        # A forked child would repeat its parent's ids: give it its own prefix.
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        """A new random prefix, and the counter from zero."""
        self.prefix = secrets.token_hex(8).encode()
        self.counter = itertools.count()

    def new(self) -> bytes:
        """A fresh id (``b"3f9c0a6b1e2d4c5f2a"``)."""
        return self.prefix + b"%x" % next(self.counter)


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``values`` (``"10.0.0.0/8"``, ``"127.0.0.1"``) as networks; ValueError naming a bad one."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


class RequestIds:
    """Chooses each request's id: a trusted proxy's ``X-Request-ID`` when it is valid, else a new one.

    ``trusted_proxies`` (``request_id.trusted_proxies``) are the networks whose
    peers may name the id; an empty tuple (the default) trusts no one, and the
    header is then not even read. An offered id that does not match
    :data:`VALID_REQUEST_ID` is replaced by one from :attr:`generator`. The
    kernel's request observer asks :meth:`offered`, generates, and sets
    :data:`request_id_var`.
    """

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.trusted = parse_networks(trusted_proxies)
        self.generator = RequestIdGenerator()
        self._is_trusted = functools.lru_cache(maxsize=4096)(self._in_trusted)

    def offered(self, request: Request) -> bytes | None:
        """The valid ``X-Request-ID`` of ``request`` when its peer is trusted, else None."""
        offered = request.get_first_header(REQUEST_ID_HEADER)
        if offered is not None and self._is_trusted(peer_address(request)) and VALID_REQUEST_ID.fullmatch(offered):
            return offered
        return None

    def _in_trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)
