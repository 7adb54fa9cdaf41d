"""sheepfold: a plugin-based ASGI platform kernel on BlackSheep."""

from sheepfold.app import PlatformApplication, create_app
from sheepfold.cache import Cache, CacheAside
from sheepfold.database import Database
from sheepfold.errors import BackendUnavailable, PluginError, SettingsError, SheepfoldError
from sheepfold.fallback import FallbackSwitch
from sheepfold.health import ComponentHealth, Status
from sheepfold.hookspecs import hookimpl
from sheepfold.http.problems import problem
from sheepfold.jobs import Jobs
from sheepfold.platform import Platform
from sheepfold.pubsub import PubSub
from sheepfold.ratelimit import RateLimiter
from sheepfold.sessions import SessionRecords
from sheepfold.state import State
from sheepfold.tasks import BackgroundTasks

__all__ = [
    "BackendUnavailable",
    "BackgroundTasks",
    "Cache",
    "CacheAside",
    "ComponentHealth",
    "Database",
    "FallbackSwitch",
    "Jobs",
    "Platform",
    "PlatformApplication",
    "PluginError",
    "PubSub",
    "RateLimiter",
    "SessionRecords",
    "SettingsError",
    "SheepfoldError",
    "State",
    "Status",
    "create_app",
    "hookimpl",
    "problem",
]
