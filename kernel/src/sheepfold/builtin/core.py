"""Built-in plugin: the kernel's settings, HTTP API (health, plugins, metrics, OpenAPI), errors, default permissions,
and the console figures of the capabilities every adapter shares (jobs)."""

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
from sheepfold.http.observation import RequestObserver
from sheepfold.http.openapi import PlatformOpenAPI
from sheepfold.http.problems import install_problem_handlers
from sheepfold.http.request_id import RequestIds, parse_networks
from sheepfold.identity import Identity
from sheepfold.jobs.figures import jobs_statistics
from sheepfold.jobs.port import Jobs
from sheepfold.logs import FORMATS, set_log_instance
from sheepfold.platform import Platform
from sheepfold.settings import NameSetting
from sheepfold.statistics import Statistics

#: Before every other middleware, whatever its category and priority: the request id and the status counted
#: must be those of the whole request.
_OUTERMOST = -1_000_000


def _is_list_of_str(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_list_of_networks(value: object) -> bool:
    if not _is_list_of_str(value):
        return False
    try:
        parse_networks(value)  # type: ignore[arg-type]  # a list of str, checked above
    except ValueError:
        return False
    return True


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
        Validator("request_id.trusted_proxies", default=[], condition=_is_list_of_networks),
        Validator("logging.format", default="text", is_in=list(FORMATS)),
        Validator("metrics.flush_interval", default=1.0, is_type_of=(int, float), gt=0),
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
    set_log_instance(platform.instance_id)
    install_problem_handlers(app)
    request_ids = RequestIds(platform.settings.get("request_id.trusted_proxies"))
    observer = RequestObserver(
        platform.metrics, request_ids, app, max_body_size=platform.settings.get("http.max_body_size")
    )
    app.middlewares.append(observer, MiddlewareCategory.INIT, _OUTERMOST)
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


@hookimpl
async def sheepfold_statistics(platform: Platform) -> Statistics | None:
    jobs = platform.find(Jobs)
    return None if jobs is None else await jobs_statistics(jobs)


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
