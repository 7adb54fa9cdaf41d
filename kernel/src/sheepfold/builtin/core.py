"""Built-in plugin: the kernel's settings, HTTP API (health, plugins, metrics, OpenAPI) and errors."""

from __future__ import annotations

from importlib import metadata

from blacksheep import Application, Router
from blacksheep.server.application import MiddlewareCategory
from dynaconf import Validator
from openapidocs.v3 import Info

from sheepfold.hookspecs import hookimpl
from sheepfold.http.health import add_health_routes
from sheepfold.http.introspection import add_introspection_routes
from sheepfold.http.metrics_middleware import request_metrics
from sheepfold.http.openapi import PlatformOpenAPI
from sheepfold.http.problems import install_problem_handlers
from sheepfold.platform import Platform


def _is_list_of_str(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return [
        Validator("plugins.disabled", default=[], condition=_is_list_of_str),
        Validator("plugins.directory", default="", is_type_of=str),
        Validator("instance.id", default="", is_type_of=str),
        Validator("admin.token", default="", is_type_of=str),
        Validator("http.max_body_size", default=1_048_576, is_type_of=int, gte=1),
        Validator("http.openapi", default=True, is_type_of=bool),
        Validator("http.ws_per_message_deflate", default=False, is_type_of=bool),
        Validator("health.timeout", default=2.0, is_type_of=(int, float), gt=0),
        Validator("switch.probe_interval", default=0.5, is_type_of=(int, float), gt=0),
        Validator("switch.failure_threshold", default=1, is_type_of=int, gte=1),
        Validator("switch.call_timeout", default=0.5, is_type_of=(int, float), gt=0),
        Validator("tasks.stop_timeout", default=5.0, is_type_of=(int, float), gt=0),
    ]


@hookimpl
def sheepfold_configure_app(app: Application, platform: Platform) -> None:
    install_problem_handlers(app)
    app.middlewares.append(request_metrics(platform.metrics), MiddlewareCategory.INIT)
    if platform.settings.get("http.openapi"):
        docs = PlatformOpenAPI(
            info=Info(title="sheepfold", version=metadata.version("sheepfold")),
            ui_path="/docs",
            json_spec_path="/openapi.json",
        )
        docs.bind_app(app)
        platform.provide(PlatformOpenAPI, docs)  # plugins amend it: platform.find(PlatformOpenAPI)


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    add_health_routes(router, platform)
    add_introspection_routes(router, platform)
