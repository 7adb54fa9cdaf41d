"""sheepfold: a plugin-based ASGI platform kernel on BlackSheep."""

from sheepfold.app import PlatformApplication, create_app
from sheepfold.cache import Cache, CacheAside
from sheepfold.database import Database
from sheepfold.errors import BackendUnavailable, PluginError, SettingsError, SheepfoldError
from sheepfold.fallback import FallbackSwitch
from sheepfold.health import ComponentHealth, Status
from sheepfold.hookspecs import hookimpl
from sheepfold.http.body import BodyError, JSONBody, read_json
from sheepfold.http.body_shape import Length, Pattern, Range
from sheepfold.http.json_decoder import InvalidJSON, decode_json
from sheepfold.http.openapi import PlatformOpenAPI, admin_docs, json_response, problem_response, route_docs
from sheepfold.http.problems import problem
from sheepfold.jobs import Jobs
from sheepfold.platform import Platform
from sheepfold.pubsub import PubSub
from sheepfold.ratelimit import RateLimiter
from sheepfold.sessions import SessionRecords
from sheepfold.state import State

__all__ = [
    "BackendUnavailable",
    "BodyError",
    "Cache",
    "CacheAside",
    "ComponentHealth",
    "Database",
    "FallbackSwitch",
    "InvalidJSON",
    "JSONBody",
    "Jobs",
    "Length",
    "Pattern",
    "Platform",
    "PlatformApplication",
    "PlatformOpenAPI",
    "PluginError",
    "PubSub",
    "Range",
    "RateLimiter",
    "SessionRecords",
    "SettingsError",
    "SheepfoldError",
    "State",
    "Status",
    "admin_docs",
    "create_app",
    "decode_json",
    "hookimpl",
    "json_response",
    "problem",
    "problem_response",
    "read_json",
    "route_docs",
]
