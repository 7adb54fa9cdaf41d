"""Adapters offered by plugins, chosen by the names in settings (hatch-style registration)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sheepfold.errors import SettingsError

if TYPE_CHECKING:
    from sheepfold.platform import Platform
    from sheepfold.types import AdapterFactory


class ProviderRegistry:
    """``capability -> name -> factory``, filled through ``sheepfold_register_providers``."""

    def __init__(self) -> None:
        self._factories: dict[str, dict[str, AdapterFactory]] = {}

    def register(self, capability: str, name: str, factory: AdapterFactory) -> None:
        """Offer ``factory`` as adapter ``name`` of ``capability``; a later registration of the same name wins."""
        self._factories.setdefault(capability, {})[name] = factory

    def names(self, capability: str) -> list[str]:
        return sorted(self._factories.get(capability, {}))

    def unknown(self, capability: str, name: str, *, setting: str) -> str | None:
        """The problem of ``setting`` naming adapter ``name`` when none is registered (listing the known), else None."""
        if name in self._factories.get(capability, {}):
            return None
        known = ", ".join(self.names(capability)) or "none"
        return f"{setting}: no {capability} adapter named {name!r}; registered: {known}"

    def build(self, capability: str, name: str, platform: Platform, *, setting: str) -> Any:
        """Build adapter ``name``; a :class:`SettingsError` naming ``setting`` lists the known names."""
        problem = self.unknown(capability, name, setting=setting)
        if problem is not None:
            raise SettingsError([problem])
        return self._factories[capability][name](platform)
