"""The same plain-text route from bare BlackSheep and from sheepfold with every built-in plugin."""

from __future__ import annotations

import os

from blacksheep import Application, Router, text

from sheepfold import create_app, hookimpl


async def plain() -> object:
    return text("Hello, World!")


def bare() -> Application:
    app = Application(router=Router())
    app.router.add_get("/plain", plain)
    return app


class PlainTextPlugin:
    name = "bench-plain-text"

    @hookimpl
    def sheepfold_register_routes(self, router: Router) -> None:
        router.add_get("/plain", plain)


def platform() -> Application:
    # Built-ins only (no installed plugins): the kernel's own cost per request.
    return create_app(plugins=[PlainTextPlugin()], load_entry_points=False)


def platform_with_console() -> Application:
    # The built-ins and the operator console (its page polls /-/console/api/snapshot while measured).
    from sheepfold_console import plugin as console

    return create_app(plugins=[PlainTextPlugin(), console], load_entry_points=False)


def _with_telemetry(sample_ratio: float) -> Application:
    # Spans go over OTLP/HTTP to the sink the benchmark runs (BENCH_OTLP_URL): the exporter's work is counted too.
    from sheepfold_telemetry import plugin as telemetry

    settings = {
        "telemetry": {"sample_ratio": sample_ratio, "exporter": "otlp", "endpoint": os.environ["BENCH_OTLP_URL"]}
    }
    return create_app(settings, plugins=[PlainTextPlugin(), telemetry], load_entry_points=False)


def platform_with_telemetry_unsampled() -> Application:
    # sheepfold-telemetry installed, sampling 0: the OpenTelemetry ASGI middleware on every request, nothing recorded.
    return _with_telemetry(0.0)


def platform_with_telemetry_sampled() -> Application:
    # Every request traced and exported.
    return _with_telemetry(1.0)
