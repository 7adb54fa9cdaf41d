"""sheepfold: a plugin-based ASGI platform kernel on BlackSheep."""

from sheepfold.app import PlatformApplication, create_app
from sheepfold.cache import Cache, CacheAside
from sheepfold.database import Database
from sheepfold.errors import BackendUnavailable, PluginError, SettingsError, SheepfoldError
from sheepfold.fallback import BACKEND_FAILURES, FallbackSwitch, Phase, SwitchListener
from sheepfold.health import ComponentHealth, Status
from sheepfold.hookspecs import hookimpl
from sheepfold.http.admin import AdminGuard, admin_only
from sheepfold.http.body import BodyError, JSONBody, read_json
from sheepfold.http.body_shape import Length, Pattern, Range
from sheepfold.http.json_decoder import InvalidJSON, decode_json
from sheepfold.http.openapi import PlatformOpenAPI, admin_docs, json_response, problem_response, route_docs
from sheepfold.http.problems import problem
from sheepfold.http.request_id import current_request_id
from sheepfold.identity import Identity
from sheepfold.jobs import Jobs
from sheepfold.namespace import Namespace
from sheepfold.platform import Platform
from sheepfold.port_methods import standing_interest
from sheepfold.pubsub import PubSub
from sheepfold.ratelimit import RateLimiter
from sheepfold.recovery import Recovery, RecoveryResult, RecoveryStep
from sheepfold.sessions import SessionRecords
from sheepfold.settings import NameSetting, url_parts
from sheepfold.state import State
from sheepfold.tasks import BackgroundTasks

__all__ = [
    "BACKEND_FAILURES",
    "AdminGuard",
    "BackendUnavailable",
    "BackgroundTasks",
    "BodyError",
    "Cache",
    "CacheAside",
    "ComponentHealth",
    "Database",
    "FallbackSwitch",
    "Identity",
    "InvalidJSON",
    "JSONBody",
    "Jobs",
    "Length",
    "NameSetting",
    "Namespace",
    "Pattern",
    "Phase",
    "Platform",
    "PlatformApplication",
    "PlatformOpenAPI",
    "PluginError",
    "PubSub",
    "Range",
    "RateLimiter",
    "Recovery",
    "RecoveryResult",
    "RecoveryStep",
    "SessionRecords",
    "SettingsError",
    "SheepfoldError",
    "State",
    "Status",
    "SwitchListener",
    "admin_docs",
    "admin_only",
    "create_app",
    "current_request_id",
    "decode_json",
    "hookimpl",
    "json_response",
    "problem",
    "problem_response",
    "read_json",
    "route_docs",
    "standing_interest",
    "url_parts",
]
