"""What a request says about its client, read so that no value a client or server can send raises.

Its cookies, its peer's address, and whether its ``Origin`` is this host.

BlackSheep's ``request.cookies`` raises ``UnicodeDecodeError`` on a ``Cookie``
header that is not UTF-8, and ``request.client_ip`` raises ``TypeError`` when
the server gives no peer address (ASGI's ``client`` is None, as uvicorn
gives for a Unix socket): either would be a 500 on every route that reads
them. Plugins read a cookie and the peer here instead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from blacksheep import Request


def cookie(request: Request, name: str) -> str | None:
    """The value of the cookie ``name`` in ``request``, or None.

    As ``request.cookies.get(name)`` (the last of duplicated names wins),
    except that a ``name=value`` pair that is not UTF-8 is skipped instead of
    raising: no cookie this server set can be in it, and the others count.
    """
    try:
        return request.cookies.get(name)
    except UnicodeDecodeError:
        pass
    found = None
    for header in request.get_headers(b"cookie"):
        for pair in header.split(b"; "):
            key, separator, value = pair.partition(b"=")
            if not separator:
                continue
            try:
                if unquote(key.decode()) == name:
                    found = unquote(value.rstrip(b"; ").decode())
            except UnicodeDecodeError:
                continue
    return found


def peer_address(request: Request) -> str:
    """The address of the connection's peer (the client, or a proxy in front of it); ``""`` when the server
    gives none (a Unix socket)."""
    scope: Any = request.scope
    client = scope.get("client") if scope is not None else None
    return str(client[0]) if client else ""


def origin_is_this_host(request: Request, origin: bytes) -> bool:
    """True when ``origin`` (an ``Origin`` header's value) is a page of the host ``request`` was sent to.

    An ``http`` or ``https`` origin whose host and port are the ``Host``
    header's. One that is not a URL (``http://[::1``), which urlsplit cannot
    read, is not: no page of this host sends it.
    """
    host = (request.get_first_header(b"host") or b"").decode("latin-1").strip().lower()
    try:
        parts = urlsplit(origin.decode("latin-1").strip().rstrip("/").lower())
    except ValueError:
        return False
    return bool(host) and parts.scheme in {"http", "https"} and parts.netloc == host
