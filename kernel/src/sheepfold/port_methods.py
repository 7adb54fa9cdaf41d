"""What a port declares: its methods, which are coroutines, and how the fallback switch routes each."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: Set on a port method by :func:`standing_interest`.
_STANDING = "__sheepfold_standing_interest__"


def standing_interest(method: F) -> F:
    """Mark a port method as recording a standing interest that the backend adapter keeps across its outages.

    The switch sends such a call to the backend whatever its phase (a
    subscription must reach the adapter that re-establishes it), and its
    errors reach the caller: they do not open the circuit.
    """
    setattr(method, _STANDING, True)
    return method


@dataclass(frozen=True, slots=True)
class PortMethod:
    """One method a port declares.

    ``is_async``: a coroutine function (routed through the switch, failing
    over to the fallback). A synchronous method registers something with the
    adapters (a link listener, say): the switch calls it on both adapters.
    ``standing``: see :func:`standing_interest`.
    """

    name: str
    is_async: bool
    standing: bool


def port_methods(port: type) -> tuple[PortMethod, ...]:
    """The methods ``port`` (a Protocol class) declares, in definition order."""
    methods = []
    for name, member in vars(port).items():
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        methods.append(PortMethod(name, inspect.iscoroutinefunction(member), bool(getattr(member, _STANDING, False))))
    return tuple(methods)


def adapter_problems(capability: str, adapter_name: str, adapter: object, port: type) -> list[str]:
    """Every way ``adapter`` fails to implement ``port``: a missing method, or one async where the port's is not."""
    problems = []
    for method in port_methods(port):
        found = getattr(adapter, method.name, None)
        if not callable(found):
            problems.append(f"{capability}: adapter {adapter_name!r} has no method {method.name!r} of {port.__name__}")
        elif inspect.iscoroutinefunction(found) is not method.is_async:
            wanted = "a coroutine function" if method.is_async else "synchronous"
            problems.append(
                f"{capability}: adapter {adapter_name!r} method {method.name!r} must be {wanted}, as in {port.__name__}"
            )
    return problems
