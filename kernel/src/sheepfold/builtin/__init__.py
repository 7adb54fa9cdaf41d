"""The kernel's own plugins, registered before any other and impossible to disable."""

from __future__ import annotations

from sheepfold.builtin import core, memory

#: (name, plugin) in registration order.
BUILTIN_PLUGINS: list[tuple[str, object]] = [
    ("sheepfold.core", core),
    ("sheepfold.memory", memory),
]
