"""The plugin's hooks: ``[realtime]`` settings, ``/ws`` and the admin routes, health, shutdown."""

from __future__ import annotations

from blacksheep import Application, Router
from blacksheep.server.websocket import WebSocket
from dynaconf import Validator

from sheepfold.health import ComponentHealth, Status
from sheepfold.hookspecs import hookimpl
from sheepfold.platform import Platform
from sheepfold.statistics import Statistics
from sheepfold_realtime import routes
from sheepfold_realtime.channels import ChannelRules, builtin_rules
from sheepfold_realtime.endpoint import RealtimeEndpoint
from sheepfold_realtime.figures import realtime_statistics
from sheepfold_realtime.going_away import GoingAwayOnSignal
from sheepfold_realtime.hub import RealtimeHub
from sheepfold_realtime.metrics import RealtimeMetrics
from sheepfold_realtime.server_log import lower_client_faults
from sheepfold_realtime.settings import RealtimeSettings, settings_validators


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return settings_validators()


@hookimpl
def sheepfold_configure_app(app: Application, platform: Platform) -> None:
    settings = RealtimeSettings.from_settings(platform.settings)
    hub = RealtimeHub(platform, settings, RealtimeMetrics(platform.metrics.registry))
    platform.provide(RealtimeHub, hub)
    declared = platform.plugins.call_each("sheepfold_realtime_channels", platform=platform)
    rules = ChannelRules(
        [("sheepfold-realtime", rule) for rule in builtin_rules(platform)]
        + [(plugin, rule) for plugin, plugin_rules in declared for rule in plugin_rules or ()]
    )
    platform.provide(ChannelRules, rules)
    lower_client_faults()


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    hub = platform.require(RealtimeHub)
    rules = platform.require(ChannelRules)
    endpoint = RealtimeEndpoint(platform, hub, rules)
    path = hub.settings.path

    async def websocket_endpoint(websocket: WebSocket) -> None:
        await endpoint(websocket)

    async def serve_sockets_without_http_middlewares(application: Application) -> None:
        # BlackSheep wraps every route, WebSockets included, in the HTTP middlewares at start-up;
        # those (metrics, rate limits, sessions) expect a response, which a WebSocket handler never
        # returns. The endpoint reads the session itself at the handshake.
        for method, found in application.router.routes.items():
            if method in ("GET_WS", b"GET_WS"):
                for route in found:
                    if route.pattern in (path, path.encode()):
                        route.handler = endpoint

    router.add_ws(path, websocket_endpoint)
    platform.app.after_start += serve_sockets_without_http_middlewares
    routes.add_routes(router, hub, rules)


@hookimpl
def sheepfold_health(platform: Platform) -> ComponentHealth:
    hub = platform.require(RealtimeHub)
    status = Status.OK if hub.linked else Status.DEGRADED
    return ComponentHealth(
        "realtime",
        status,
        details={
            "sockets": len(hub.sockets),
            "channels": hub.channel_count(),
            "broker_linked": hub.linked,
            **({} if hub.linked else {"detail": "broker subscriptions lost: local delivery only"}),
        },
    )


@hookimpl
def sheepfold_statistics(platform: Platform) -> Statistics | None:
    hub = platform.find(RealtimeHub)
    return None if hub is None else realtime_statistics(hub)


@hookimpl
def sheepfold_startup(app: Application, platform: Platform) -> None:
    going_away = GoingAwayOnSignal(platform.require(RealtimeHub).close_all, platform.tasks)
    going_away.install()
    platform.provide(GoingAwayOnSignal, going_away)


@hookimpl
async def sheepfold_shutdown(app: Application, platform: Platform) -> None:
    going_away = platform.find(GoingAwayOnSignal)
    if going_away is not None:
        going_away.uninstall()
    hub = platform.find(RealtimeHub)
    if hub is not None:
        await hub.close_all()
