"""The plugin host: discovery, enabling and disabling, and calling hooks one plugin at a time."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from sheepfold import hookspecs
from sheepfold.errors import PluginError, SettingsError

logger = logging.getLogger("sheepfold.plugins")

ENTRY_POINT_GROUP = "sheepfold.plugins"
HOOK_PREFIX = "sheepfold_"
#: Hooks whose implementations may be ``async def`` (the kernel awaits them).
AWAITABLE_HOOKS = frozenset(
    {
        "sheepfold_startup",
        "sheepfold_shutdown",
        "sheepfold_health",
        "sheepfold_statistics",
        "sheepfold_identity_from_request",
    }
)
#: The plugin attribute naming the plugins (names or distributions) it must be registered after.
AFTER_ATTRIBUTE = "sheepfold_after"


@dataclass
class PluginInfo:
    """What ``/-/plugins`` and ``sheepfold plugins`` say of one plugin."""

    name: str
    source: str  # "builtin", "entry point", "directory", "explicit" or "registered" (by a plugin, at build)
    distribution: str | None = None
    version: str | None = None
    required: bool = False
    enabled: bool = True
    hooks: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "source": self.source,
            "enabled": self.enabled,
            "required": self.required,
            "hooks": self.hooks,
        }


class _HookManager(pluggy.PluginManager):
    """pluggy, plus pytest's convention: a ``sheepfold_*`` function is a hook even unmarked."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(HOOK_PREFIX) and inspect.isroutine(getattr(plugin, name, None)):
            opts = pluggy.HookimplOpts(
                wrapper=False, hookwrapper=False, optionalhook=False, tryfirst=False, trylast=False, specname=None
            )
        return opts


class PluginHost:
    """The plugins of one app, in the order they were registered.

    Built-in plugins come first, then entry points of the group
    ``sheepfold.plugins``, then single-file plugins from a directory, then
    plugins passed explicitly. Names in ``disabled`` are never imported.
    A plugin with a ``sheepfold_after`` attribute (a tuple of plugin or
    distribution names, ``("sheepfold-database",)``) is registered after
    those plugins, and so called after them by every hook; otherwise the
    order above holds.
    """

    def __init__(self) -> None:
        self.manager = _HookManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}

    def load(
        self,
        *,
        builtins: Sequence[tuple[str, object]],
        entry_points: bool = True,
        directory: str | None = None,
        explicit: Iterable[object] = (),
        disabled: Iterable[str] = (),
    ) -> list[str]:
        """Register every plugin but those named in ``disabled`` (names compare case-insensitively).

        Returns the problems of ``plugins.disabled`` (an unknown name, a kernel
        plugin) rather than raising them, so that start-up reports them with
        every other bad setting; the plugins it names are still left out.
        """
        disabled_names = {name.lower() for name in disabled}
        candidates: list[tuple[PluginInfo, Any]] = []
        for name, plugin in builtins:
            candidates.append((PluginInfo(name, "builtin", *_distribution_of("sheepfold"), required=True), plugin))
        if entry_points:
            for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = entry.dist
                info = PluginInfo(
                    entry.name, "entry point", dist.name if dist else None, dist.version if dist else None
                )
                candidates.append((info, entry))
        if directory:
            for path in sorted(Path(directory).glob("*.py")):
                if not path.name.startswith("_"):
                    candidates.append((PluginInfo(path.stem, "directory"), path))
        for plugin in explicit:
            name = _name_of(plugin)
            candidates.append((PluginInfo(name, "explicit", *_distribution_of_module(plugin)), plugin))

        known = {info.name.lower(): info for info, _ in candidates}
        problems = []
        for name in sorted(disabled_names):
            if name not in known:
                names = ", ".join(sorted(info.name for info in known.values()))
                problems.append(f"plugins.disabled: unknown plugin {name!r}; known plugins: {names}")
            elif known[name].required:
                problems.append(f"plugins.disabled: plugin {name!r} is part of the kernel and cannot be disabled")
                disabled_names.discard(name)

        loaded: list[tuple[PluginInfo, object]] = []
        for info, plugin in candidates:
            if info.name in self.infos:
                raise PluginError("two plugins share this name", plugin=info.name)
            self.infos[info.name] = info
            if info.name.lower() in disabled_names:
                info.enabled = False
                continue
            loaded.append((info, _materialise(info, plugin)))
        order = ordered_by_after(loaded, disabled=[info for info in self.infos.values() if not info.enabled])
        for info, plugin in order:
            self._register(info, plugin)
        # Listings show enabled plugins in the order hooks call them, then the disabled ones.
        self.infos = {info.name: info for info, _ in order} | {
            name: info for name, info in self.infos.items() if not info.enabled
        }
        return problems

    def register(self, plugin: object, name: str) -> None:
        """Add hook implementations while the app is built: ``platform.plugins.register(hooks, name)``.

        For hooks a plugin implements only under some settings (pytest's
        ``config.pluginmanager.register``): register them once the settings
        say so, from ``sheepfold_configure_app``, and with the settings off
        no call reaches the plugin at all. Every hook called from then on
        calls them (``sheepfold_startup``, the per-request and per-call ones,
        :attr:`~sheepfold.propagation.Propagation.enabled`); a hook already
        called (the one registering, say) is not called again. Listed with
        the other plugins, source ``"registered"``. Raises
        :class:`~sheepfold.errors.PluginError` as loading does: a name
        taken, a hook that does not exist, an async one that must not be.
        """
        if name in self.infos:
            raise PluginError("two plugins share this name", plugin=name)
        info = PluginInfo(name, "registered", *_distribution_of_module(plugin))
        try:
            self._register(info, plugin)
        except PluginError:
            # Refused, not half-registered: a caller that goes on must not have its hooks called.
            if self.manager.is_registered(plugin):
                self.manager.unregister(plugin)
            raise
        self.infos[name] = info

    def _register(self, info: PluginInfo, plugin: object) -> None:
        try:
            self.manager.register(plugin, name=info.name)
        except ValueError as error:
            raise PluginError(str(error), plugin=info.name) from error
        for caller in self.manager.get_hookcallers(plugin) or []:
            if caller.spec is None:
                raise PluginError("implements a hook that does not exist", plugin=info.name, hook=caller.name)
            info.hooks.append(caller.name)
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                if impl.hookwrapper or impl.wrapper:
                    raise PluginError("hook wrappers are not supported", plugin=info.name, hook=caller.name)
                if inspect.iscoroutinefunction(impl.function) and caller.name not in AWAITABLE_HOOKS:
                    raise PluginError(
                        "must be synchronous (only start-up, shut-down and health hooks may be async)",
                        plugin=info.name,
                        hook=caller.name,
                    )
        info.hooks.sort()

    @property
    def enabled(self) -> list[PluginInfo]:
        return [info for info in self.infos.values() if info.enabled]

    def ordered(self, hook: str) -> list[pluggy.HookImpl]:
        """A hook's implementations in call order: tryfirst, then registration order, then trylast."""
        impls = getattr(self.manager.hook, hook).get_hookimpls()
        return (
            [impl for impl in impls if impl.tryfirst]
            + [impl for impl in impls if not impl.tryfirst and not impl.trylast]
            + [impl for impl in impls if impl.trylast]
        )

    def call_each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a synchronous hook plugin by plugin; the first exception becomes a :class:`PluginError`."""
        results = []
        for impl in self.ordered(hook):
            try:
                results.append((impl.plugin_name, impl.function(*[kwargs[arg] for arg in impl.argnames])))
            except PluginError:
                raise
            except Exception as error:
                raise PluginError(f"{type(error).__name__}: {error}", plugin=impl.plugin_name, hook=hook) from error
        return results

    def fold(self, hook: str, name: str, value: Any, **kwargs: Any) -> Any:
        """Call a synchronous hook plugin by plugin, each receiving as ``name`` what the one before returned.

        A None result leaves the value as it was. Returns the last value; the
        first exception becomes a :class:`PluginError`.
        """
        for impl in self.ordered(hook):
            arguments = {**kwargs, name: value}
            try:
                result = impl.function(*[arguments[arg] for arg in impl.argnames])
            except Exception as error:
                raise PluginError(f"{type(error).__name__}: {error}", plugin=impl.plugin_name, hook=hook) from error
            if result is not None:
                value = result
        return value

    def call_collecting(self, hook: str, problems: list[str], **kwargs: Any) -> None:
        """Call a synchronous hook plugin by plugin, collecting settings problems instead of stopping.

        A :class:`SettingsError`'s problems are added to ``problems`` and the
        next plugin is called, so start-up reports every bad setting at once.
        Any other exception becomes a :class:`PluginError`, unless ``problems``
        already holds something: then it most likely follows from those (a
        plugin whose settings were refused cannot set itself up) and is left
        out of the report, which stays about settings and never prints values.
        """
        for impl in self.ordered(hook):
            try:
                impl.function(*[kwargs[arg] for arg in impl.argnames])
            except SettingsError as error:
                problems.extend(error.problems)
            except Exception as error:
                if problems:
                    logger.debug("%s of plugin %r failed after settings problems", hook, impl.plugin_name)
                    continue
                if isinstance(error, PluginError):
                    raise
                raise PluginError(f"{type(error).__name__}: {error}", plugin=impl.plugin_name, hook=hook) from error

    async def await_each(self, hook: str, *, reverse: bool = False, isolate: bool = False, **kwargs: Any) -> None:
        """Call a lifecycle hook plugin by plugin, awaiting each result before the next call.

        The first exception becomes a :class:`PluginError` naming the plugin
        and the hook, and the plugins after it are not called; with
        ``isolate`` it is logged instead and the next plugin is called.
        """
        impls = self.ordered(hook)
        for impl in reversed(impls) if reverse else impls:
            try:
                outcome = impl.function(*[kwargs[arg] for arg in impl.argnames])
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as error:
                failure = PluginError(f"{type(error).__name__}: {error}", plugin=impl.plugin_name, hook=hook)
                if not isolate:
                    raise failure from error
                logger.error("%s", failure, exc_info=error)

    async def gather_isolated(self, hook: str, *, timeout: float, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a collecting hook on every plugin at once, each isolated from the others.

        Returns ``(plugin name, result)`` pairs; a plugin whose implementation
        raised or took longer than ``timeout`` seconds has its exception as
        its result, and every other plugin's result is still returned.
        """
        impls = self.ordered(hook)

        async def one(impl: pluggy.HookImpl) -> Any:
            outcome = impl.function(*[kwargs[arg] for arg in impl.argnames])
            if inspect.isawaitable(outcome):
                async with asyncio.timeout(timeout):
                    outcome = await outcome
            return outcome

        async def isolated(impl: pluggy.HookImpl) -> Any:
            try:
                return await one(impl)
            except Exception as error:
                return error

        results = await asyncio.gather(*(isolated(impl) for impl in impls))
        return [(impl.plugin_name, result) for impl, result in zip(impls, results, strict=True)]


def ordered_by_after(
    plugins: Sequence[tuple[PluginInfo, object]], *, disabled: Iterable[PluginInfo]
) -> list[tuple[PluginInfo, object]]:
    """``plugins`` in registration order, each moved after the plugins its ``sheepfold_after`` names.

    A name matches a plugin's name or its distribution's. Otherwise the
    given order is kept: each step takes the earliest plugin whose
    predecessors are all placed. Naming a disabled plugin is allowed (there
    is nothing to run after); naming one that is not installed, or a cycle,
    raises :class:`PluginError`.
    """
    names: dict[str, int] = {}
    for index, (info, _plugin) in enumerate(plugins):
        names[info.name] = index
        if info.distribution:
            names.setdefault(info.distribution, index)
    switched_off = {name for info in disabled for name in (info.name, info.distribution) if name}
    predecessors: list[set[int]] = []
    for info, plugin in plugins:
        after = getattr(plugin, AFTER_ATTRIBUTE, ())
        if isinstance(after, str) or not all(isinstance(name, str) for name in after):
            raise PluginError(f"{AFTER_ATTRIBUTE} must be a tuple of plugin names, got {after!r}", plugin=info.name)
        wanted = set()
        for name in after:
            if name in names:
                wanted.add(names[name])
            elif name not in switched_off:
                known = sorted({info.name for info, _ in plugins})
                raise PluginError(
                    f"{AFTER_ATTRIBUTE} names {name!r}, which is not installed; installed: {', '.join(known)}",
                    plugin=info.name,
                )
        predecessors.append(wanted)
    placed: list[int] = []
    waiting = list(range(len(plugins)))
    while waiting:
        ready = next((index for index in waiting if predecessors[index] <= set(placed)), None)
        if ready is None:
            cycle = ", ".join(plugins[index][0].name for index in waiting)
            raise PluginError(f"{AFTER_ATTRIBUTE} forms a cycle among: {cycle}")
        placed.append(ready)
        waiting.remove(ready)
    return [plugins[index] for index in placed]


def _name_of(plugin: object) -> str:
    name = getattr(plugin, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    return type(plugin).__name__ if not isinstance(plugin, type) else plugin.__name__


def _materialise(info: PluginInfo, plugin: Any) -> object:
    if isinstance(plugin, metadata.EntryPoint):
        try:
            return plugin.load()
        except Exception as error:
            raise PluginError(f"cannot be imported: {type(error).__name__}: {error}", plugin=info.name) from error
    if isinstance(plugin, Path):
        module_name = f"sheepfold_local_plugins.{plugin.stem}"
        spec = importlib.util.spec_from_file_location(module_name, plugin)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise PluginError(
                f"cannot be imported from {plugin}: {type(error).__name__}: {error}", plugin=info.name
            ) from error
        sys.modules[module_name] = module
        return module
    return plugin


def _distribution_of(name: str) -> tuple[str | None, str | None]:
    try:
        return name, metadata.version(name)
    except metadata.PackageNotFoundError:
        return None, None


def _distribution_of_module(plugin: object) -> tuple[str | None, str | None]:
    module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
    top = module.split(".")[0]
    dists = metadata.packages_distributions().get(top)
    # Editable installs are missing from packages_distributions: try the package's conventional dist name.
    return _distribution_of(dists[0] if dists else top.replace("_", "-"))
