"""Live figures that plugins report: what the operator console shows and its JSON API serves."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sheepfold.platform import Platform

logger = logging.getLogger("sheepfold.statistics")

#: A value in a statistics table's row.
Cell = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Statistics:
    """One section of live figures, returned by a plugin's ``sheepfold_statistics``.

    ``counters`` only grow while the process runs (decisions made, messages
    delivered): readers derive rates per second from two readings. ``gauges``
    are values now (subscribers, active penalties). ``tables`` are short lists
    of rows (the keys most often limited), each row a flat mapping; keep them
    bounded (tens of rows) and free of secrets, since admins read them as they
    are. Names are ``snake_case`` and stable: scripts read them.
    """

    section: str
    counters: Mapping[str, float] = field(default_factory=dict)
    gauges: Mapping[str, float] = field(default_factory=dict)
    tables: Mapping[str, Sequence[Mapping[str, Cell]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "counters": dict(self.counters),
            "gauges": dict(self.gauges),
            "tables": {name: [dict(row) for row in rows] for name, rows in self.tables.items()},
        }


async def gather_statistics(platform: Platform, *, timeout: float = 1.0) -> dict[str, dict[str, Any]]:
    """Every plugin's ``sheepfold_statistics`` at once, as JSON objects keyed by section.

    Each implementation runs isolated: one that raises or exceeds ``timeout``
    is logged and reported as ``{"error": ...}`` under its plugin's name, and
    the other sections are still returned.
    """
    results = await platform.plugins.gather_isolated("sheepfold_statistics", timeout=timeout, platform=platform)
    sections: dict[str, dict[str, Any]] = {}
    for plugin, result in results:
        if isinstance(result, Exception):
            logger.error("statistics of plugin %r failed", plugin, exc_info=result)
            reason = "timed out" if isinstance(result, TimeoutError) else type(result).__name__
            sections[plugin] = {"error": f"statistics {reason}"}
        elif isinstance(result, Statistics):
            sections[result.section] = result.to_json()
    return sections
