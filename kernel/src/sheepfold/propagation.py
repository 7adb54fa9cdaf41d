"""Carrying a trace from where work is handed over (an enqueue, a publish) to where it runs (a worker, another
instance), and tracing the backend calls that no instrumentation sees.

The kernel knows nothing of tracing: it asks the plugins that implement
``sheepfold_propagation_send`` for a carrier (string entries, such as W3C
``traceparent``) and, where the work starts, ``sheepfold_propagation_receive``
for a context manager to run it in. Without such a plugin the carrier is empty
and the context manager does nothing, for the cost of one attribute check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sheepfold.platform import Platform

_NOTHING: AbstractContextManager[object] = contextlib.nullcontext()


class Propagation:
    """``platform.propagation``: what a plugin calls to hand a trace over and to pick it up again.

    ``enabled`` is False while no plugin implements the tracing hooks (a
    plugin that traces only under some settings registers them while the app
    is built: :meth:`~sheepfold.plugins.PluginHost.register`): :meth:`carrier`
    is then ``{}`` and :meth:`continued` and :meth:`span` are no-ops.
    """

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        hooks = platform.plugins.manager.hook
        self._send = hooks.sheepfold_propagation_send
        self._receive = hooks.sheepfold_propagation_receive
        self._span = hooks.sheepfold_span

    @property
    def enabled(self) -> bool:
        """Whether a plugin implements a tracing hook now (one may register them while the app is built)."""
        return bool(self._send.get_hookimpls() or self._receive.get_hookimpls() or self._span.get_hookimpls())

    def carrier(self) -> dict[str, str]:
        """The entries that continue the current trace elsewhere: store them with the work handed over.

        ``{}`` when nothing is traced. Synchronous, cheap, no I/O.
        """
        carrier: dict[str, str] = {}
        if self.enabled:
            self._send(carrier=carrier, platform=self._platform)
        return carrier

    def continued(
        self,
        carrier: Mapping[str, str] | None,
        operation: str,
        attributes: dict[str, str | int] | None = None,
        *,
        linked: bool = False,
    ) -> AbstractContextManager[object]:
        """A context manager to run carried work in: it continues the trace ``carrier`` brought.

        ``operation`` names the work (``"job send_welcome"``); ``linked``
        starts a new trace linked to the carried one (a job's retry) instead
        of a child of it. A no-op without a tracing plugin.
        """
        if not self.enabled:
            return _NOTHING
        found = self._receive(
            carrier=carrier or {}, operation=operation, attributes=attributes or {}, linked=linked,
            platform=self._platform,
        )  # fmt: skip
        return _NOTHING if found is None else found

    def span(self, operation: str, attributes: dict[str, str | int]) -> AbstractContextManager[object]:
        """A context manager to make one backend call in, traced as ``operation`` (``sheepfold_span``).

        For calls no instrumentation sees; a no-op without a tracing plugin
        (check :attr:`enabled` once, up front, to skip even the call).
        """
        if not self.enabled:
            return _NOTHING
        found = self._span(operation=operation, attributes=attributes, platform=self._platform)
        return _NOTHING if found is None else found
