"""sheepfold: a plugin-based ASGI platform kernel on BlackSheep."""

from sheepfold.app import PlatformApplication, create_app
from sheepfold.cache import Cache, CacheAside
from sheepfold.errors import BackendUnavailable, PluginError, SettingsError, SheepfoldError
from sheepfold.fallback import FallbackSwitch
from sheepfold.health import ComponentHealth, Status
from sheepfold.hookspecs import hookimpl
from sheepfold.http.problems import problem
from sheepfold.platform import Platform
from sheepfold.state import State

__all__ = [
    "BackendUnavailable",
    "Cache",
    "CacheAside",
    "ComponentHealth",
    "FallbackSwitch",
    "Platform",
    "PlatformApplication",
    "PluginError",
    "SettingsError",
    "SheepfoldError",
    "State",
    "Status",
    "create_app",
    "hookimpl",
    "problem",
]
