"""The ``sheepfold`` command: serve, plugins, check, and whatever plugins add."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sheepfold.builtin import BUILTIN_PLUGINS
from sheepfold.errors import SettingsError, SheepfoldError
from sheepfold.plugins import PluginHost
from sheepfold.settings import load_settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sheepfold.app import PlatformApplication


def _load_plugins() -> PluginHost:
    settings = load_settings()
    host = PluginHost()
    problems = host.load(
        builtins=BUILTIN_PLUGINS,
        directory=settings.get("plugins.directory") or None,
        disabled=settings.get("plugins.disabled") or [],
    )
    if problems:
        raise SettingsError(problems)
    return host


def _create_app_or_exit() -> PlatformApplication:
    from sheepfold.app import create_app

    try:
        return create_app()
    except SheepfoldError as error:
        click.echo(f"sheepfold: {error}", err=True)
        sys.exit(1)


@click.group()
@click.version_option(package_name="sheepfold")
def cli() -> None:
    """sheepfold: a plugin-based ASGI platform kernel."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to bind.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option("--log-level", default="info", show_default=True)
def serve(host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the platform with uvicorn (N worker processes with --workers N)."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from sheepfold.logs import logging_config
    from sheepfold.multiprocess import directory_for_workers

    # Fail here, once, with a readable message, rather than in every worker.
    settings = _create_app_or_exit().platform.settings
    # uvicorn applies it in this process and again in each worker, before the app is built.
    log_config = logging_config(settings.get("logging.format"), log_level) or LOGGING_CONFIG
    with contextlib.ExitStack() as exports:
        if not settings.get("fleet.address"):
            # Where peers reach this instance while the fleet's shared state is down; the workers inherit it.
            exports.enter_context(_exported("SHEEPFOLD_FLEET__ADDRESS", served_address(host, port)))
        if workers > 1:
            # /metrics must add up all of them: they share their metrics in one directory.
            exports.enter_context(directory_for_workers())
        uvicorn.run(
            "sheepfold.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=log_config,
            lifespan="on",
            # Client addresses are the platform's to judge (ratelimit.trusted_proxies): uvicorn must not
            # rewrite them from X-Forwarded-For, which it does by default for peers on 127.0.0.1.
            proxy_headers=False,
            # Compressing every WebSocket message costs a fan-out about a third of its CPU and each socket a
            # zlib context of a few hundred kB, for short JSON events that gain little: off unless asked for.
            ws_per_message_deflate=settings.get("http.ws_per_message_deflate"),
        )


@contextlib.contextmanager
def _exported(name: str, value: str) -> Iterator[None]:
    """``name=value`` in the environment (for the worker processes) while serving; as it was after."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def served_address(host: str, port: int) -> str:
    """The base URL ``sheepfold serve --host HOST --port PORT`` is reached at by its peers.

    A wildcard host (all interfaces) is replaced by the machine's host name;
    set ``fleet.address`` where peers must use another name.
    """
    if host in {"", "0.0.0.0", "::"}:
        host = socket.gethostname()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List every plugin: name, distribution, version, hooks, enabled or not."""
    try:
        host = _load_plugins()
    except SheepfoldError as error:
        click.echo(f"sheepfold: {error}", err=True)
        sys.exit(1)
    infos = [info.to_json() for info in host.infos.values()]
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    for info in infos:
        state = "enabled" if info["enabled"] else "disabled"
        dist = f"{info['distribution'] or '-'} {info['version'] or ''}".strip()
        click.echo(f"{info['name']:<24} {dist:<28} {state:<9} {', '.join(info['hooks'])}")


@cli.command()
def check() -> None:
    """Validate settings and the plugin set; exit non-zero with start-up's messages."""
    _create_app_or_exit()
    click.echo("settings and plugins are valid")


@cli.command("new-plugin")
@click.argument("name")
@click.option(
    "--directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create the plugin's folder.",
)
def new_plugin(name: str, directory: Path) -> None:
    """Create plugin NAME's distribution (sheepfold-NAME/): entry point, a route, a setting, health, tests."""
    from sheepfold.template import create_plugin

    try:
        target = create_plugin(name, directory)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="NAME") from None
    except FileExistsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created {target}")
    click.echo(f"next: pip install -e '{target}[test]' && pytest {target}")


def main() -> None:
    """Entry point: the built-in commands plus those of every enabled plugin."""
    try:
        host = _load_plugins()
    except SheepfoldError:
        host = None  # `sheepfold check` reports the problem; built-in commands still work
    if host is not None:
        host.call_each("sheepfold_register_commands", cli=cli)
    cli()
