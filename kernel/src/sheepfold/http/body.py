"""Reading a JSON request body: one decoder, one binder, one kind of error, for the kernel and every plugin.

A handler declares ``body: JSONBody[Login]`` (BlackSheep binds it like
``FromJSON``) or calls :func:`read_json`. Either way a body that is not
acceptable becomes a :class:`BodyError`, which the kernel answers as
``application/problem+json``: 415 for a content type other than JSON, 400
for bytes that are not JSON text (:func:`~sheepfold.http.json_decoder.decode_json`),
422 for JSON of the wrong shape, naming each field. BlackSheep logs it at
INFO, without a traceback. 413 (``http.max_body_size``) comes first, while
the body is read.
"""

from __future__ import annotations

from typing import Any, TypeVar

from blacksheep import Request
from blacksheep.exceptions import HTTPException
from blacksheep.server.bindings import BodyBinder, BoundValue

from sheepfold.http.body_shape import FieldProblem, ShapeError, convert
from sheepfold.http.json_decoder import InvalidJSON, decode_json

T = TypeVar("T")

_UTF8 = {b"utf-8", b"utf8"}


class BodyError(HTTPException):
    """A request body the route cannot take: ``status`` 400, 415 or 422, ``problems`` per field (422)."""

    def __init__(self, status: int, detail: str, problems: list[FieldProblem] | None = None) -> None:
        super().__init__(status, detail)
        self.problems = problems or []


class JSONBody(BoundValue[T]):
    """A handler parameter bound to the request's JSON body, checked against ``T`` (see :func:`read_json`)."""


def _check_media_type(request: Request) -> None:
    header = request.content_type() or b""
    media_type, *parameters = (part.strip().lower() for part in header.split(b";"))
    if not (
        media_type == b"application/json" or (media_type.startswith(b"application/") and media_type.endswith(b"+json"))
    ):
        shown = media_type.decode("latin-1") or "none"
        raise BodyError(415, f"Send the body as Content-Type: application/json (got {shown}).")
    for parameter in parameters:
        name, _, value = parameter.partition(b"=")
        if name.strip() == b"charset" and value.strip(b' "') not in _UTF8:
            raise BodyError(415, "JSON bodies are UTF-8; the charset parameter may only say utf-8.")


async def read_json(request: Request, expected: Any = Any) -> Any:
    """The request's JSON body, checked against ``expected`` (a type :class:`JSONBody` takes).

    Returns the value (a dataclass instance when ``expected`` is one). Raises
    :class:`BodyError` (415, 400 or 422), or 413 while reading a body over
    ``http.max_body_size``.
    """
    _check_media_type(request)
    raw = await request.read() or b""
    try:
        value = decode_json(raw)
    except InvalidJSON as error:
        raise BodyError(400, f"The body is not acceptable JSON: {error}.") from None
    try:
        return convert(value, expected)
    except ShapeError as error:
        raise BodyError(422, f"The body does not have the expected shape: {error}.", error.problems) from None


class JSONBodyBinder(BodyBinder):
    """BlackSheep's binder for :class:`JSONBody`: the body is always required and read by :func:`read_json`."""

    handle = JSONBody

    def __init__(self, expected_type: Any, name: str = "body", implicit: bool = False, required: bool = True) -> None:
        super().__init__(expected_type, name, implicit, required=True, converter=lambda value: value)

    @property
    def content_type(self) -> str:
        return "application/json"

    def matches_content_type(self, request: Request) -> bool:
        return True  # read_json answers a wrong content type with 415

    async def read_data(self, request: Request) -> Any:
        return await read_json(request, self.expected_type)

    async def get_value(self, request: Request) -> Any:
        return await self.read_data(request)
