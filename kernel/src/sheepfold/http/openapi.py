"""The OpenAPI document: BlackSheep's generator, taught the kernel's JSON bodies and problem responses.

Plugins document a route with :func:`route_docs` (BlackSheep's ``docs``
arguments, attached to the handler itself, so no app-wide handler is needed
while routes are added) and amend every operation they affect with
:meth:`PlatformOpenAPI.amend` (the rate limiter adds 429 and its headers).
Routes that take a :class:`~sheepfold.http.body.JSONBody` get their request
schema from the declared type and the 400/413/415/422 problem responses.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any, NotRequired, TypedDict, TypeVar

from blacksheep import Application
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.openapi.common import (
    ContentInfo,
    DirectSchema,
    EndpointDocs,
    HeaderInfo,
    ResponseInfo,
    SecurityInfo,
)
from blacksheep.server.openapi.v3 import OpenAPIHandler
from blacksheep.server.routing import Router
from openapidocs.v3 import (
    HTTPSecurity,
    MediaType,
    Operation,
    Parameter,
    ParameterLocation,
    PathItem,
    Reference,
    RequestBody,
)
from openapidocs.v3 import Response as ResponseDoc

from sheepfold.http.body import JSONBodyBinder
from sheepfold.http.body_shape import json_schema
from sheepfold.http.docs_ui import PackagedSwaggerUI
from sheepfold.http.json_decoder import MAX_DEPTH, MAX_INTEGER_DIGITS

F = TypeVar("F", bound=Callable[..., Any])
#: ``amend(path, method, handler, operation)``: called for every documented operation.
Amendment = Callable[[str, str, Any, Operation], None]

_DOCS_ATTRIBUTE = "__sheepfold_docs__"
#: The name of the security scheme of routes that need ``admin.token`` as a Bearer token.
ADMIN_SECURITY = "adminToken"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldProblemDoc(TypedDict):
    field: str
    problem: str


class ProblemDetails(TypedDict):
    """RFC 9457 problem details, as every error response of the platform carries them."""

    type: str
    title: str
    status: int
    detail: NotRequired[str]
    instance: NotRequired[str]
    request_id: NotRequired[str]
    errors: NotRequired[list[FieldProblemDoc]]


@dataclasses.dataclass
class _RouteDocs:
    endpoint: EndpointDocs
    body: Any
    query: Mapping[str, Any]


def route_docs(*, body: Any = None, query: Mapping[str, Any] | None = None, **docs: Any) -> Callable[[F], F]:
    """Document a route handler: the arguments of BlackSheep's ``docs`` (``summary``, ``responses``, ...).

    ``responses`` maps a status to a description or a ``ResponseInfo``; use
    :func:`problem_response` for errors and :func:`json_response` for JSON.
    ``body`` is the type of a JSON body the handler reads itself with
    :func:`~sheepfold.http.body.read_json` (a ``JSONBody`` parameter needs no
    mention); ``query`` maps query parameters the handler reads itself to their
    type (``Annotated[str, Length(1, 64)]``; ``T | None`` when optional).
    Returns the handler unchanged.
    """

    def decorate(handler: F) -> F:
        setattr(handler, _DOCS_ATTRIBUTE, _RouteDocs(EndpointDocs(**docs), body, dict(query or {})))
        return handler

    return decorate


def problem_response(description: str, headers: Mapping[str, HeaderInfo] | None = None) -> ResponseInfo:
    """A response documented as ``application/problem+json`` (:class:`ProblemDetails`)."""
    return ResponseInfo(
        description,
        headers=dict(headers) if headers else None,
        content=[ContentInfo(ProblemDetails, content_type=PROBLEM_MEDIA_TYPE)],
    )


def json_response(description: str, shape: Any, headers: Mapping[str, HeaderInfo] | None = None) -> ResponseInfo:
    """A JSON response whose body has the ``shape`` (a dataclass, ``TypedDict`` or other JSON type)."""
    return ResponseInfo(description, headers=dict(headers) if headers else None, content=[ContentInfo(shape)])


def admin_docs(**docs: Any) -> Callable[[F], F]:
    """:func:`route_docs` for an admin route: it needs ``admin.token`` as a Bearer token (401 otherwise)."""
    responses = {401: problem_response("The admin token is missing or wrong."), **docs.pop("responses", {})}
    return route_docs(security=[SecurityInfo(ADMIN_SECURITY, [])], responses=responses, **docs)


BODY_ERRORS: dict[int, ResponseInfo] = {
    400: problem_response(
        "The body is not JSON text: a syntax error, not UTF-8, a byte order mark, NaN or Infinity, "
        f"nesting deeper than {MAX_DEPTH}, an integer of more than {MAX_INTEGER_DIGITS} digits, "
        "or a lone surrogate."
    ),
    413: problem_response("The body exceeds http.max_body_size."),
    415: problem_response("The Content-Type is not application/json (or a charset other than utf-8)."),
    422: problem_response("The JSON does not have the declared shape; errors names each field."),
}


class PlatformOpenAPI(OpenAPIHandler):
    """BlackSheep's ``OpenAPIHandler``, reading :func:`route_docs` and documenting :class:`JSONBody` routes."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # Swagger UI from the installed package, not BlackSheep's CDN: /docs works offline.
        self.ui_providers = [PackagedSwaggerUI(options.get("ui_path", "/docs"))]
        self._amendments: list[Amendment] = []
        self.components.security_schemes = {
            ADMIN_SECURITY: HTTPSecurity(scheme="bearer", description="The admin.token setting, as a Bearer token."),
        }

    def bind_app(self, app: Application) -> None:
        """Serve the spec, the UI page and the UI's files (``sheepfold.http.docs_ui``: from the installed packages)."""
        super().bind_app(app)
        for provider in self.ui_providers:
            if isinstance(provider, PackagedSwaggerUI):
                for path, handler in provider.asset_handlers().items():
                    app.router.add_get(path, allow_anonymous(self.anonymous_access)(self.ignore()(handler)))

    def amend(self, amendment: Amendment) -> None:
        """Call ``amendment(path, method, handler, operation)`` on every operation, once the paths are built."""
        self._amendments.append(amendment)

    def get_handler_docs(self, obj: Any) -> EndpointDocs | None:
        docs: _RouteDocs | None = getattr(obj, _DOCS_ATTRIBUTE, None)
        return docs.endpoint if docs else super().get_handler_docs(obj)

    def _reads_json(self, handler: Any) -> Any:
        """The declared type of the JSON body ``handler`` takes, or None when it takes none."""
        binder = self._get_body_binder(handler)
        if isinstance(binder, JSONBodyBinder):
            return binder.expected_type
        docs: _RouteDocs | None = getattr(handler, _DOCS_ATTRIBUTE, None)
        return docs.body if docs else None

    def get_request_body(self, handler: Any) -> RequestBody | Reference | None:
        docs: _RouteDocs | None = getattr(handler, _DOCS_ATTRIBUTE, None)
        if docs is None or docs.body is None:
            return super().get_request_body(handler)
        return RequestBody(
            content={"application/json": MediaType(schema=self.get_schema_by_type(docs.body))}, required=True
        )

    def get_parameters(self, handler: Any) -> list[Parameter | Reference] | None:
        parameters = super().get_parameters(handler) or []
        docs: _RouteDocs | None = getattr(handler, _DOCS_ATTRIBUTE, None)
        for name, shape in (docs.query if docs else {}).items():
            schema = json_schema(shape)
            optional = "anyOf" in schema and {"type": "null"} in schema["anyOf"]
            if optional:
                schema = {"anyOf": [option for option in schema["anyOf"] if option != {"type": "null"}]}
            parameters.append(
                Parameter(name, ParameterLocation.QUERY, schema=DirectSchema(schema), required=not optional)  # type: ignore[no-untyped-call]  # DirectSchema.__init__ is unannotated in blacksheep
            )
        return parameters or None

    def get_schema_by_type(self, object_type: Any, *args: Any, **kwargs: Any) -> Any:
        # Records are described by body_shape, the same module that checks them, so the two agree.
        if dataclasses.is_dataclass(object_type) or typing.is_typeddict(object_type):
            self.set_type_schema(object_type, json_schema(object_type))
        return super().get_schema_by_type(object_type, *args, **kwargs)

    def get_responses(self, handler: Any) -> dict[str, Any]:
        responses = super().get_responses(handler)
        if self._reads_json(handler) is not None:
            for status, info in BODY_ERRORS.items():
                responses.setdefault(str(status), self.response_doc(info))
        return responses

    def response_doc(self, info: ResponseInfo) -> ResponseDoc:
        """The OpenAPI response object of ``info``, for an amendment to put into ``operation.responses``."""
        return ResponseDoc(
            description=info.description,
            content=self._get_content_from_response_info(info.content),  # type: ignore[arg-type]  # blacksheep misplaces the None: the list may be None, not its items
            headers=self._get_headers_from_response_info(info.headers),  # type: ignore[arg-type]  # blacksheep misplaces the None: the dict may be None, not its values
        )

    def get_routes_docs(self, router: Router, path_prefix: str = "") -> dict[str, PathItem]:
        paths = super().get_routes_docs(router, path_prefix)
        if self._amendments:
            routes = self.router_to_paths_dict(router, lambda route: route)
            for path, methods in routes.items():
                item = paths.get(path_prefix + path)
                for method, route in methods.items():
                    operation = getattr(item, method, None) if item is not None else None
                    if operation is not None:
                        handler = self._get_request_handler(route)
                        for amendment in self._amendments:
                            amendment(path, method, handler, operation)
        return paths
