"""RFC 9457 problem details for every error response."""

from __future__ import annotations

import http
import json
from typing import Any

from blacksheep import Application, Content, Request, Response
from blacksheep.exceptions import HTTPException

from sheepfold.http.body import BodyError
from sheepfold.http.request_id import current_request_id

PROBLEM_JSON = b"application/problem+json"


def problem(status: int, detail: str | None = None, *, title: str | None = None, **members: Any) -> Response:
    """An RFC 9457 ``application/problem+json`` response: what every sheepfold error answers.

    Args:
        status: the HTTP status (any, though errors are 4xx and 5xx).
        detail: a sentence for the client about this occurrence; left out when None or empty.
            Never put secrets or internals in it: it is sent as it is.
        title: the problem's title; default the status's phrase (``"Not Found"``).
        members: extension members added to the JSON object as they are (JSON-able values), such
            as ``errors=[...]`` or ``instance="/path"``.

    Returns:
        A BlackSheep ``Response`` whose JSON body holds ``type`` (``"about:blank"``), ``title``,
        ``status``, ``detail`` (when given), ``request_id`` (the request's id, during a request:
        :func:`~sheepfold.http.request_id.current_request_id`) and the ``members``. A handler returns it as it is:
        ``return problem(403, "Moderating needs a moderator.")``. Touches nothing but memory.
    """
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or http.HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    body.update(members)
    return Response(status, content=Content(PROBLEM_JSON, json.dumps(body).encode()))


async def _http_error(app: Application, request: Request, error: HTTPException) -> Response:
    status = getattr(error, "status", 500)
    # Server errors keep their cause in the log only; client errors say what was wrong.
    detail = None if status >= 500 else _client_detail(error)
    return problem(status, detail, instance=request.url.path.decode(errors="replace"))


async def _body_error(app: Application, request: Request, error: BodyError) -> Response:
    members: dict[str, Any] = {"errors": [p.to_json() for p in error.problems]} if error.problems else {}
    return problem(error.status, str(error), instance=request.url.path.decode(errors="replace"), **members)


async def _not_found(app: Application, request: Request, error: HTTPException) -> Response:
    """404, or 405 with ``Allow`` when the path has routes for other methods."""
    allowed = sorted(
        method.decode()
        for method, routes in app.router.routes.items()
        if b"_" not in method and any(route.match(request) for route in routes)  # "GET_WS": WebSocket routes
    )
    if not allowed:
        return await _http_error(app, request, error)
    response = problem(405, f"{request.method} is not allowed here; use {', '.join(allowed)}.")
    response.add_header(b"Allow", ", ".join(allowed).encode())
    return response


def _client_detail(error: HTTPException) -> str | None:
    message = str(error)
    return message if message and message != str(getattr(error, "status", "")) else None


def install_problem_handlers(app: Application) -> None:
    """Answer every HTTP error status, including unknown routes (404) and crashes (500), as problem+json."""
    for status in http.HTTPStatus:
        if status.value >= 400:
            app.exceptions_handlers[status.value] = _http_error
    app.exceptions_handlers[404] = _not_found
    app.exceptions_handlers[BodyError] = _body_error
