"""Built-in plugin: the kernel's settings, HTTP API (health, plugins, metrics, OpenAPI), errors, default permissions."""

from __future__ import annotations

from importlib import metadata

from blacksheep import Application, Request, Router
from blacksheep.middlewares import MiddlewareCategory
from dynaconf import Validator
from openapidocs.v3 import Info

from sheepfold.hookspecs import hookimpl
from sheepfold.http.admin import AdminGuard, AdminGuardMiddleware
from sheepfold.http.fleet import add_fleet_routes
from sheepfold.http.health import add_health_routes
from sheepfold.http.introspection import add_introspection_routes
from sheepfold.http.metrics_middleware import request_metrics
from sheepfold.http.openapi import PlatformOpenAPI
from sheepfold.http.problems import install_problem_handlers
from sheepfold.identity import Identity
from sheepfold.platform import Platform
from sheepfold.settings import NameSetting


def _is_list_of_str(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return [
        NameSetting("plugins.disabled", shape="value", default=[], condition=_is_list_of_str),
        Validator("plugins.directory", default="", is_type_of=str),
        Validator("instance.id", default="", is_type_of=str),
        Validator("admin.token", default="", is_type_of=str),
        Validator("permissions.admin_role", default="admin", is_type_of=str, len_min=1),
        Validator("admin.open", default=False, is_type_of=bool),
        Validator("http.max_body_size", default=1_048_576, is_type_of=int, gte=1),
        Validator("http.openapi", default=True, is_type_of=bool),
        Validator("http.ws_per_message_deflate", default=False, is_type_of=bool),
        Validator("health.timeout", default=2.0, is_type_of=(int, float), gt=0),
        Validator("switch.probe_interval", default=0.5, is_type_of=(int, float), gt=0),
        Validator("switch.failure_threshold", default=1, is_type_of=int, gte=1),
        Validator("switch.call_timeout", default=0.5, is_type_of=(int, float), gt=0),
        Validator("switch.recovery_timeout", default=10.0, is_type_of=(int, float), gt=0),
        Validator("tasks.stop_timeout", default=5.0, is_type_of=(int, float), gt=0),
        Validator("fleet.heartbeat_interval", default=2.0, is_type_of=(int, float), gte=0.05, lte=300),
        Validator("fleet.max_instances", default=256, is_type_of=int, gte=1, lte=100_000),
        Validator(
            "fleet.address",
            default="",
            is_type_of=str,
            condition=lambda address: address == "" or address.startswith(("http://", "https://")),
            messages={"condition": "fleet.address: expected an http:// or https:// URL, or nothing"},
        ),
    ]


@hookimpl
def sheepfold_configure_app(app: Application, platform: Platform) -> None:
    install_problem_handlers(app)
    app.middlewares.append(request_metrics(platform.metrics, app), MiddlewareCategory.INIT)
    # First of the authorisation middleware: an admin route refused here is never rate-limited or run.
    app.middlewares.append(AdminGuardMiddleware(platform.require(AdminGuard), platform), MiddlewareCategory.AUTHZ)
    if platform.settings.get("http.openapi"):
        docs = PlatformOpenAPI(
            info=Info(title="sheepfold", version=metadata.version("sheepfold")),
            ui_path="/docs",
            json_spec_path="/openapi.json",
        )
        docs.bind_app(app)
        platform.provide(PlatformOpenAPI, docs)  # plugins amend it: platform.find(PlatformOpenAPI)


@hookimpl
def sheepfold_startup(app: Application, platform: Platform) -> None:
    platform.require(AdminGuard).warn_if_open()


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    add_health_routes(router, platform)
    add_introspection_routes(router, platform)
    add_fleet_routes(router, platform)


@hookimpl(trylast=True)
def sheepfold_permission_allowed(identity: Identity, platform: Platform) -> bool | None:
    # The documented default, asked after every other plugin: the admin role may do anything;
    # None for everyone else, which refuses unless a plugin allowed.
    return True if identity.has_role(platform.settings.get("permissions.admin_role")) else None


@hookimpl(trylast=True)
def sheepfold_identity_from_request(request: Request) -> Identity | None:
    # An app using BlackSheep's own authentication (app.use_authentication) has its identity on
    # request.user: honoured after every plugin, its "sub" claim the subject, its "roles" claim the roles.
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated() or not user.sub:
        return None
    roles = user.claims.get("roles") or ()
    return Identity(str(user.sub), [roles] if isinstance(roles, str) else [r for r in roles if isinstance(r, str)])
