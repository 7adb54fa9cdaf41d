"""Job arguments are pickled (arq's default format); refusing the unpicklable at enqueue, not at run time."""

from __future__ import annotations

import pickle
from typing import Any

from sheepfold.jobs.errors import JobArgumentsError


def dump_arguments(function: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """Pickle ``(args, kwargs)``; :class:`JobArgumentsError` naming the function when they cannot be."""
    try:
        return pickle.dumps((args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        raise JobArgumentsError(
            f"arguments of job {function!r} cannot be serialized ({type(error).__name__}: {error}); "
            "pass plain data (str, numbers, lists, dicts, dataclasses of those), not connections or files"
        ) from error


def load_arguments(data: bytes) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The ``(args, kwargs)`` that :func:`dump_arguments` pickled."""
    args, kwargs = pickle.loads(data)
    return tuple(args), dict(kwargs)
