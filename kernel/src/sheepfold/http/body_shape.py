"""A route's declared body type: checking a decoded JSON value against it, and its JSON Schema.

One description serves both, so the OpenAPI document says exactly what the
check accepts. The types a route may declare:

- ``str``, ``int``, ``float`` (an integer is accepted too), ``bool``, ``None``, ``Any``;
- ``list[T]``, ``dict[str, T]``, ``Literal[...]`` of strings, numbers or booleans, ``T | U``;
- a dataclass (a field with a default may be left out) or a ``TypedDict``
  (``NotRequired`` keys, or ``total=False``); unknown keys are refused;
- ``Annotated[T, Length(min, max)]`` bounding a string's or a list's length, and
  ``Annotated[str, Pattern(regex)]``, ``Annotated[int, Range(min, max)]``.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Union

_JSON_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


@dataclass(frozen=True)
class Length:
    """``Annotated[str, Length(1, 64)]``: at least ``min`` and at most ``max`` characters (or list items)."""

    min: int = 0
    max: int | None = None


@dataclass(frozen=True)
class Range:
    """``Annotated[int, Range(1, 1000)]``: a number from ``min`` to ``max``, both included (None: unbounded)."""

    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Pattern:
    """``Annotated[str, Pattern(r"^[^\\u0000]*$")]``: the string matches ``regex``.

    The regex is searched, as JSON Schema does, so anchor it; keep to syntax that
    Python and ECMAScript read alike.
    """

    regex: str
    description: str = "the required pattern"


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong at ``field`` (a JSON path such as ``items[2].name``; empty for the whole body)."""

    field: str
    problem: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem}


class ShapeError(ValueError):
    """The value does not have the declared shape; ``problems`` says where and why."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field or 'body'}: {p.problem}" for p in problems))
        self.problems = problems


def convert(value: Any, expected: Any) -> Any:
    """``value`` as ``expected``: a dataclass instance, or the value itself once it fits.

    Raises :class:`ShapeError` naming every field that does not fit.
    """
    problems: list[FieldProblem] = []
    result = _convert(value, expected, "", problems)
    if problems:
        raise ShapeError(problems)
    return result


def _join(path: str, key: str) -> str:
    key = key if len(key) <= 64 else f"{key[:61]}..."  # a problem names the field, not a megabyte of it
    return f"{path}.{key}" if path else key


def _describe(expected: Any) -> str:
    schema = json_schema(expected)
    return str(schema.get("type") or schema.get("enum") or "the declared shape")


def _convert(value: Any, expected: Any, path: str, problems: list[FieldProblem]) -> Any:
    origin = typing.get_origin(expected)
    if expected is Any:
        return value
    if origin is typing.Annotated:
        inner, *metadata = typing.get_args(expected)
        converted = _convert(value, inner, path, problems)
        for rule in metadata:
            if isinstance(rule, Length) and isinstance(value, str | list):
                if len(value) < rule.min or (rule.max is not None and len(value) > rule.max):
                    upper = "" if rule.max is None else f" and at most {rule.max}"
                    unit = "characters" if isinstance(value, str) else "items"
                    problems.append(FieldProblem(path, f"needs at least {rule.min}{upper} {unit}"))
            elif isinstance(rule, Range) and isinstance(value, int | float) and not isinstance(value, bool):
                if (rule.min is not None and value < rule.min) or (rule.max is not None and value > rule.max):
                    problems.append(FieldProblem(path, f"must be from {rule.min} to {rule.max}"))
            elif isinstance(rule, Pattern) and isinstance(value, str) and not re.search(rule.regex, value):
                problems.append(FieldProblem(path, f"must match {rule.description}"))
        return converted
    if origin in (Union, types.UnionType):
        for option in typing.get_args(expected):
            attempt: list[FieldProblem] = []
            converted = _convert(value, option, path, attempt)
            if not attempt:
                return converted
        problems.append(FieldProblem(path, f"matches none of the allowed shapes ({_describe(expected)})"))
        return None
    if origin is Literal:
        choices = typing.get_args(expected)
        if not any(value == choice and type(value) is type(choice) for choice in choices):
            problems.append(FieldProblem(path, f"must be one of {', '.join(map(repr, choices))}"))
        return value
    if origin is list or expected is list:
        if not isinstance(value, list):
            problems.append(FieldProblem(path, "must be an array"))
            return None
        (item,) = typing.get_args(expected) or (Any,)
        return [_convert(v, item, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if origin is dict or expected is dict:
        if not isinstance(value, dict):
            problems.append(FieldProblem(path, "must be an object"))
            return None
        _key, item = typing.get_args(expected) or (str, Any)
        return {k: _convert(v, item, _join(path, k), problems) for k, v in value.items()}
    if dataclasses.is_dataclass(expected) or typing.is_typeddict(expected):
        return _convert_record(value, expected, path, problems)
    if expected in _JSON_NAMES:
        fits = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not fits:
            problems.append(FieldProblem(path, f"must be {_article(_JSON_NAMES[expected])}"))
        return value
    raise TypeError(f"a JSON body cannot be declared as {expected!r}")


def _article(name: str) -> str:
    return "null" if name == "null" else f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _fields(record: Any) -> Iterator[tuple[str, Any, bool]]:
    """Each field's name, type and whether it is required."""
    hints = typing.get_type_hints(record, include_extras=True)
    if typing.is_typeddict(record):
        for name, hint in hints.items():
            # Under `from __future__ import annotations` (3.11) __required_keys__ misses NotRequired: read the hint.
            marker = typing.get_origin(hint)
            declared = name in record.__required_keys__
            required = marker is typing.Required or (marker is not typing.NotRequired and declared)
            yield name, _strip_required(hint), required
        return
    for field in dataclasses.fields(record):
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        yield field.name, hints[field.name], required


def _strip_required(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Required, typing.NotRequired):
        return typing.get_args(hint)[0]
    return hint


def _convert_record(value: Any, record: Any, path: str, problems: list[FieldProblem]) -> Any:
    if not isinstance(value, dict):
        problems.append(FieldProblem(path, "must be an object"))
        return None
    known: dict[str, Any] = {}
    names = set()
    before = len(problems)
    for name, hint, required in _fields(record):
        names.add(name)
        if name in value:
            known[name] = _convert(value[name], hint, _join(path, name), problems)
        elif required:
            problems.append(FieldProblem(_join(path, name), "is required"))
    problems.extend(FieldProblem(_join(path, key), "is not a known field") for key in value if key not in names)
    if typing.is_typeddict(record) or len(problems) > before:  # a record with problems is not built
        return known
    return record(**known)


def json_schema(expected: Any) -> dict[str, Any]:
    """The JSON Schema (OpenAPI 3.1) of what :func:`convert` accepts for ``expected``, self-contained."""
    origin = typing.get_origin(expected)
    if expected is Any:
        return {}
    if origin is typing.Annotated:
        inner, *metadata = typing.get_args(expected)
        schema = json_schema(inner)
        for rule in metadata:
            if isinstance(rule, Length):
                lower, upper = ("minItems", "maxItems") if schema.get("type") == "array" else ("minLength", "maxLength")
                schema[lower] = rule.min
                if rule.max is not None:
                    schema[upper] = rule.max
            elif isinstance(rule, Range):
                schema.update(
                    {key: bound for key, bound in (("minimum", rule.min), ("maximum", rule.max)) if bound is not None}
                )
            elif isinstance(rule, Pattern):
                schema["pattern"] = rule.regex
        return schema
    if origin in (Union, types.UnionType):
        return {"anyOf": [json_schema(option) for option in typing.get_args(expected)]}
    if origin is Literal:
        return {"enum": list(typing.get_args(expected))}
    if origin is list or expected is list:
        (item,) = typing.get_args(expected) or (Any,)
        return {"type": "array", "items": json_schema(item)}
    if origin is dict or expected is dict:
        _key, item = typing.get_args(expected) or (str, Any)
        return {"type": "object", "additionalProperties": json_schema(item)}
    if dataclasses.is_dataclass(expected) or typing.is_typeddict(expected):
        fields = list(_fields(expected))
        schema = {
            "type": "object",
            "properties": {name: json_schema(hint) for name, hint, _required in fields},
            "additionalProperties": False,
        }
        required = [name for name, _hint, is_required in fields if is_required]
        if required:
            schema["required"] = required
        return schema
    if expected in _JSON_NAMES:
        return {"type": _JSON_NAMES[expected]}
    raise TypeError(f"a JSON body cannot be declared as {expected!r}")
