"""Refusing request bodies over the configured size with 413, before they are buffered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from blacksheep import Request
from blacksheep.contents import ASGIContent
from blacksheep.exceptions import HTTPException

Receive = Callable[[], Awaitable[dict[str, Any]]]
#: Methods whose requests are not wrapped: they carry no body worth limiting.
BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class PayloadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {limit} bytes.")


def limited_receive(scope: Mapping[str, Any], receive: Receive, limit: int) -> Receive:
    """``receive`` for a request, raising :class:`PayloadTooLarge` once the body passes ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused on the first read,
    so nothing is buffered; a chunked body is counted as it arrives. The error
    is raised while the handler reads the body, where BlackSheep turns it into
    a response.
    """
    declared = 0
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else 0
            break
    received = 0

    async def receive_within_limit() -> dict[str, Any]:
        nonlocal received
        if declared > limit:
            raise PayloadTooLarge(limit)
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise PayloadTooLarge(limit)
        return message

    return receive_within_limit


def limit_body(request: Request, limit: int) -> None:
    """Make ``request``'s body (not yet read) refuse more than ``limit`` bytes: :func:`limited_receive`.

    The kernel's request observer calls it for every request whose method may
    carry a body (not :data:`BODILESS_METHODS`), before any other middleware.
    """
    content = request.content
    if isinstance(content, ASGIContent):  # as BlackSheep's application makes every request's
        request.content = ASGIContent(limited_receive(request.scope, content.receive, limit))
