"""``decode_json``: bytes to a JSON value, or one typed error that says what was wrong.

The standard library's ``json.loads`` accepts things that are not JSON text
(``NaN``, ``Infinity``, lone surrogate escapes), detects UTF-16 and UTF-32 by
itself, and fails with ``RecursionError`` or ``ValueError`` (not
``JSONDecodeError``) on deep nesting and long integers. This decoder takes
strict UTF-8 JSON (RFC 8259) within the limits below, and raises
:class:`InvalidJSON` for everything else.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Deepest nesting of arrays and objects accepted (the document itself is depth 1).
MAX_DEPTH = 64
#: Most digits an integer may have: CPython's own default limit for int/str conversion.
MAX_INTEGER_DIGITS = 4300

_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJSON(ValueError):
    """The bytes are not acceptable JSON text; ``str(error)`` names the problem (safe to show a client)."""


def _reject_constant(name: str) -> Any:
    raise InvalidJSON(f"{name} is not a JSON number")


def _parse_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INTEGER_DIGITS:
        raise InvalidJSON(f"an integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJSON(f"the number {text[:40]} is too large for a 64-bit float")
    return value


_decoder = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant)


def decode_json(raw: bytes | str) -> Any:
    """The JSON value in ``raw``: UTF-8 without a byte order mark, at most :data:`MAX_DEPTH` deep.

    ``raw`` may also be text already decoded (a WebSocket text frame); then
    only the checks after decoding apply.

    Raises :class:`InvalidJSON` (and nothing else) for an empty body, bytes
    that are not UTF-8, a byte order mark, a syntax error (with line and
    column), ``NaN``/``Infinity``, an integer over :data:`MAX_INTEGER_DIGITS`
    digits, a float that overflows, nesting deeper than :data:`MAX_DEPTH`, or
    a string holding a lone surrogate (``"\\ud800"``), which no UTF-8 text can
    carry onward.
    """
    if isinstance(raw, str):
        _check_string(raw)  # text that holds a surrogate itself, not as an escape
        text = raw
    else:
        if raw.startswith(_BOM):
            raise InvalidJSON("the body starts with a byte order mark; send UTF-8 JSON without one")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidJSON(f"the body is not valid UTF-8 (byte {error.start})") from None
    if not text.strip(" \t\r\n"):
        raise InvalidJSON("the body is empty; a JSON value is required")
    # Counting brackets (strings included) bounds the depth from above: most bodies skip the walk.
    may_be_deep = text.count("[") + text.count("{") > MAX_DEPTH
    has_escapes = "\\u" in text  # past the check above, only \u escapes can make a lone surrogate
    try:
        value = _decoder.decode(text)
    except json.JSONDecodeError as error:
        raise InvalidJSON(f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise InvalidJSON(f"the JSON nests deeper than {MAX_DEPTH} levels") from None
    if may_be_deep or has_escapes:
        _inspect(value, check_strings=has_escapes)
    return value


def _inspect(value: Any, *, check_strings: bool) -> None:
    """Raise :class:`InvalidJSON` if ``value`` nests deeper than :data:`MAX_DEPTH` or holds a lone surrogate."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
            if check_strings:
                for key in item:
                    _check_string(key)
        elif isinstance(item, list):
            children = item
        else:
            if check_strings and isinstance(item, str):
                _check_string(item)
            continue
        if depth > MAX_DEPTH:
            raise InvalidJSON(f"the JSON nests deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def _check_string(text: str) -> None:
    if _SURROGATE.search(text):
        raise InvalidJSON("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text")
