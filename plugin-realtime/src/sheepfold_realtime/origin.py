"""Cross-site WebSocket hijacking: the handshake's ``Origin`` against an allow-list."""

from __future__ import annotations

from blacksheep import Request

from sheepfold.http.request_fields import origin_is_this_host


def origin_allowed(request: Request, allowed: tuple[str, ...], *, allow_missing: bool) -> bool:
    """True when the handshake may proceed.

    A browser always sends ``Origin``; the server's own origin (the same
    host and port as the ``Host`` header) is allowed, so is any origin in
    ``allowed`` (normalised, lower case, no trailing slash) or everything
    with ``"*"``. A handshake without ``Origin`` comes from a non-browser
    client, which no other site can drive: ``allow_missing`` decides.
    """
    origin = request.get_first_header(b"origin")
    if origin is None:
        return allow_missing
    text = origin.decode("latin-1").strip().rstrip("/").lower()
    if "*" in allowed or text in allowed:
        return True
    return origin_is_this_host(request, origin)
