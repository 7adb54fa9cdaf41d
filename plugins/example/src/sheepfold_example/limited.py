"""``GET /example/limited``: a route with a small rate limit of its own, declared the way a plugin author does.

The plugin names a policy for the route with ``@rate_limit`` and gives that
policy a default in settings (``[ratelimit.policies.example] limit``), which
an operator may override. A client that calls it more than five times a
minute gets 429 with ``Retry-After``; every answer carries the
``RateLimit-Policy`` and ``RateLimit`` headers.
"""

from __future__ import annotations

from blacksheep import Response, Router, json
from dynaconf import Validator

from sheepfold import json_response, route_docs
from sheepfold_ratelimit import rate_limit

POLICY = "example"


def validators() -> list[Validator]:
    """The default of the route's policy: five requests a minute per client."""
    return [Validator(f"ratelimit.policies.{POLICY}.limit", default="5/minute")]


@route_docs(
    summary="A route with a small rate limit of its own",
    responses={200: json_response("Within the limit", dict[str, str])},
)
@rate_limit(POLICY)
async def limited() -> Response:
    return json({"message": "Within the limit: see the RateLimit header for what is left."})


def add_routes(router: Router) -> None:
    router.add_get("/example/limited", limited)
