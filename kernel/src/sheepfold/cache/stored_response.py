"""HTTP responses as the bytes a cache stores, and back."""

from __future__ import annotations

import json

from blacksheep import Content, Response

#: Headers never stored: the body's own (rebuilt from it), per-connection ones, and cookies.
_NOT_STORED = frozenset({b"content-type", b"content-length", b"date", b"transfer-encoding", b"connection"})
_LENGTH_BYTES = 4


def encode_response(response: Response) -> bytes | None:
    """``response`` as bytes, or None when its body is streamed (not known in full)."""
    content = response.content
    body = b"" if content is None else content.body
    if body is None:
        return None
    content_type = None if content is None else content.type.decode("latin-1")
    headers = [
        [name.decode("latin-1"), value.decode("latin-1")]
        for name, value in response.headers.items()
        if name.lower() not in _NOT_STORED
    ]
    meta = json.dumps([response.status, content_type, headers], separators=(",", ":")).encode()
    return len(meta).to_bytes(_LENGTH_BYTES, "big") + meta + body


def decode_response(stored: bytes) -> Response | None:
    """The response ``stored`` holds, or None when it is not one (a foreign or corrupt value)."""
    try:
        length = int.from_bytes(stored[:_LENGTH_BYTES], "big")
        status, content_type, headers = json.loads(stored[_LENGTH_BYTES : _LENGTH_BYTES + length])
        body = stored[_LENGTH_BYTES + length :]
        return Response(
            status,
            [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers],
            None if content_type is None else Content(content_type.encode("latin-1"), body),
        )
    except (ValueError, TypeError):
        return None
