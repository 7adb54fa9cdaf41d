"""The rate limit in the OpenAPI document: 429 and the ``RateLimit`` headers on every limited route."""

from __future__ import annotations

from typing import Any

from blacksheep.server.openapi.common import HeaderInfo

from sheepfold import PlatformOpenAPI, problem_response
from sheepfold_ratelimit import headers
from sheepfold_ratelimit.routes import RoutePolicies

_STATE_HEADERS = {
    headers.POLICY_HEADER.decode(): HeaderInfo(str, "The policy counting this request (IETF RateLimit-Policy)."),
    headers.STATE_HEADER.decode(): HeaderInfo(str, "What is left of the limit, and when it resets (IETF RateLimit)."),
}
_REFUSED = problem_response(
    "Over the rate limit: try again after Retry-After seconds.",
    headers={headers.RETRY_AFTER.decode(): HeaderInfo(int, "Seconds until a request may succeed.")},
)


def document_limits(openapi: PlatformOpenAPI, routes: RoutePolicies, *, send_headers: bool) -> None:
    """Add 429 (and, when ``ratelimit.headers`` is on, the state headers) to each limited operation."""

    def amend(path: str, method: str, handler: Any, operation: Any) -> None:  # an openapidocs Operation
        if routes.for_route(handler, path) is None:
            return
        refused = openapi.response_doc(_REFUSED)
        if send_headers:
            state = openapi.response_doc(problem_response("", _STATE_HEADERS)).headers
            refused.headers = {**(refused.headers or {}), **state}
            for response in operation.responses.values():
                response.headers = {**(response.headers or {}), **state}
        operation.responses.setdefault("429", refused)

    openapi.amend(amend)
