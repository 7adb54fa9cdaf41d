"""``/health``, ``/health/ready`` and ``/health/live``."""

from __future__ import annotations

import logging
from typing import Any, Literal, NotRequired, TypedDict

from blacksheep import Request, Response, Router, json

from sheepfold.health import ComponentHealth, Status, overall_status
from sheepfold.http.admin import AdminGuard
from sheepfold.http.openapi import json_response, route_docs
from sheepfold.platform import Platform

logger = logging.getLogger("sheepfold.health")


async def assess(platform: Platform) -> tuple[Status, dict[str, Any]]:
    """The platform's status and the full report of ``/health``.

    Each plugin's ``sheepfold_health`` runs isolated: one that raises or
    exceeds ``health.timeout`` is reported as its own ``down`` component
    (not required), and the others are still reported.
    """
    timeout = float(platform.settings.get("health.timeout", 2.0))
    results = await platform.plugins.gather_isolated("sheepfold_health", timeout=timeout, platform=platform)
    components: list[ComponentHealth] = []
    for plugin, result in results:
        if isinstance(result, Exception):
            logger.error("health check of plugin %r failed", plugin, exc_info=result)
            reason = "timed out" if isinstance(result, TimeoutError) else type(result).__name__
            components.append(ComponentHealth(plugin, Status.DOWN, details={"error": f"health check {reason}"}))
        elif result is not None:
            components.append(result)
    capabilities = {name: switch.describe() for name, switch in platform.capabilities.items()}
    degraded = any(not switch.on_backend for switch in platform.capabilities.values())
    status = overall_status(components, degraded)
    return status, {
        "status": status.value,
        "instance": platform.instance_id,
        "components": {c.name: c.to_json() for c in components},
        "capabilities": capabilities,
        "event_loop": {"lag": platform.loop_lag.describe()},
        "background_tasks": len(platform.tasks),
    }


class HealthStatus(TypedDict):
    """What ``/health/live``, ``/health/ready`` and ``/health`` without the admin token answer."""

    status: Literal["ok", "degraded", "down"]


class LoopLag(TypedDict):
    """The event loop's measured lag: now, and the worst since start-up."""

    current_seconds: float
    worst_seconds: float


class EventLoopReport(TypedDict):
    """``event_loop`` in the full ``/health`` report."""

    lag: LoopLag


class HealthReport(TypedDict):
    """``/health`` with the admin token: the status, and what it is made of."""

    status: Literal["ok", "degraded", "down"]
    instance: NotRequired[str]
    components: NotRequired[dict[str, Any]]
    capabilities: NotRequired[dict[str, Any]]
    event_loop: NotRequired[EventLoopReport]
    background_tasks: NotRequired[int]


_DOWN = {503: json_response("A required component is down.", HealthStatus)}


def _status_code(status: Status) -> int:
    return 503 if status is Status.DOWN else 200


def add_health_routes(router: Router, platform: Platform) -> None:
    guard = platform.require(AdminGuard)

    @route_docs(summary="The process answers (touches nothing)", responses={200: json_response("Alive", HealthStatus)})
    async def live() -> Response:
        return json({"status": Status.OK.value})

    @route_docs(
        summary="Ready for traffic: no required component down",
        responses={200: json_response("Ready (ok or degraded)", HealthStatus), **_DOWN},
    )
    async def ready() -> Response:
        status, _report = await assess(platform)
        return json({"status": status.value}, status=_status_code(status))

    @route_docs(
        summary="Health: the status; with the admin token, every component and capability",
        responses={200: json_response("ok or degraded", HealthReport), 503: json_response("down", HealthReport)},
    )
    async def health(request: Request) -> Response:
        status, report = await assess(platform)
        if not await guard.admits(request, platform):  # the detail is the admin surface's; the status is everyone's
            report = {"status": status.value}
        return json(report, status=_status_code(status))

    router.add_get("/health/live", live)
    router.add_get("/health/ready", ready)
    router.add_get("/health", health)
