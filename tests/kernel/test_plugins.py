"""The plugin host: discovery, disabling, ordering, and refusing what would break silently."""

from __future__ import annotations

from typing import Protocol

import pytest
from blacksheep.testing import TestClient

from sheepfold import PluginError, SettingsError, create_app
from sheepfold.plugins import PluginHost
from tests.kernel.plugins_for_tests import plugin
from tests.support.plugins import needs


def test_builtin_plugins_come_first_and_are_required():
    app = create_app(load_entry_points=False, plugins=[plugin("mine", sheepfold_register_routes=lambda router: None)])
    infos = list(app.platform.plugins.infos.values())
    assert [i.name for i in infos] == ["sheepfold.core", "sheepfold.memory", "mine"]
    assert [i.required for i in infos] == [True, True, False]
    assert infos[0].distribution == "sheepfold" and infos[0].version


@needs("sheepfold_example")  # the entry-point plugin these tests find
def test_entry_point_plugins_are_discovered_with_their_distribution():
    app = create_app()
    example = app.platform.plugins.infos["example"]
    assert (example.source, example.distribution, example.enabled) == ("entry point", "sheepfold-example", True)
    assert "sheepfold_register_routes" in example.hooks


@needs("sheepfold_example")
def test_a_disabled_plugin_is_listed_but_never_imported(monkeypatch):
    imported = []
    from importlib import metadata

    original = metadata.EntryPoint.load
    monkeypatch.setattr(metadata.EntryPoint, "load", lambda self: imported.append(self.name) or original(self))
    app = create_app({"plugins": {"disabled": ["example"]}})
    assert "example" not in imported
    assert app.platform.plugins.infos["example"].enabled is False


def test_disabling_an_unknown_plugin_names_the_known_ones():
    with pytest.raises(SettingsError) as error:
        create_app({"plugins": {"disabled": ["nope"]}}, load_entry_points=False)
    assert "'nope'" in str(error.value) and "sheepfold.memory" in str(error.value)


def test_a_kernel_plugin_cannot_be_disabled():
    with pytest.raises(SettingsError, match=r"part of the kernel and cannot be disabled"):
        create_app({"plugins": {"disabled": ["sheepfold.memory"]}}, load_entry_points=False)


def test_a_plugin_implementing_an_unknown_hook_is_refused_by_name():
    with pytest.raises(PluginError, match=r"'typo'.*sheepfold_statrup"):
        create_app(load_entry_points=False, plugins=[plugin("typo", sheepfold_statrup=lambda: None)])


def test_an_async_implementation_of_a_synchronous_hook_is_refused():
    async def routes(router):
        return None

    with pytest.raises(PluginError, match=r"must be synchronous"):
        create_app(load_entry_points=False, plugins=[plugin("async", sheepfold_register_routes=routes)])


def test_unmarked_functions_with_the_hook_prefix_are_hooks(tmp_path):
    (tmp_path / "local_hello.py").write_text(
        "def sheepfold_register_routes(router):\n"
        "    async def hello():\n"
        "        return 'hi from a file'\n"
        "    router.add_get('/local', hello)\n"
    )
    (tmp_path / "_private.py").write_text("raise RuntimeError('must not be imported')\n")
    app = create_app({"plugins": {"directory": str(tmp_path)}}, load_entry_points=False)
    assert app.platform.plugins.infos["local_hello"].source == "directory"


async def test_a_directory_plugin_serves_its_route(tmp_path):
    (tmp_path / "greeter.py").write_text(
        "from sheepfold import hookimpl\n"
        "@hookimpl\n"
        "def sheepfold_register_routes(router):\n"
        "    async def hello():\n"
        "        return 'hi from a file'\n"
        "    router.add_get('/local', hello)\n"
    )
    app = create_app({"plugins": {"directory": str(tmp_path)}}, load_entry_points=False)
    await app.start()
    response = await TestClient(app).get("/local")
    assert response.status == 200 and await response.text() == "hi from a file"
    await app.stop()


def test_a_directory_plugin_that_fails_to_import_is_named(tmp_path):
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(PluginError, match=r"'broken'.*cannot be imported"):
        create_app({"plugins": {"directory": str(tmp_path)}}, load_entry_points=False)


def test_two_plugins_with_one_name_are_refused():
    with pytest.raises(PluginError, match=r"share this name"):
        create_app(load_entry_points=False, plugins=[plugin("twin"), plugin("twin")])


def test_collecting_hooks_run_in_registration_order():
    calls = []
    first = plugin("first", sheepfold_register_routes=lambda router: calls.append("first"))
    second = plugin("second", sheepfold_register_routes=lambda router: calls.append("second"))
    create_app(load_entry_points=False, plugins=[first, second])
    assert calls == ["first", "second"]


def test_hook_register_routes_adds_routes_to_this_app_only():
    seen = []
    create_app(
        load_entry_points=False, plugins=[plugin("r", sheepfold_register_routes=lambda router: seen.append(router))]
    )
    other = create_app(load_entry_points=False)
    assert seen and seen[0] is not other.router


def test_hook_configure_app_failure_names_the_plugin_and_hook():
    def explode(app):
        raise RuntimeError("no luck")

    with pytest.raises(PluginError) as error:
        create_app(load_entry_points=False, plugins=[plugin("boom", sheepfold_configure_app=explode)])
    assert (error.value.plugin, error.value.hook) == ("boom", "sheepfold_configure_app")
    assert "no luck" in str(error.value)


def test_hook_configure_app_can_provide_services_to_other_plugins():
    class Greeter:
        pass

    greeter = Greeter()
    found = []
    provider = plugin("provider", sheepfold_configure_app=lambda platform: platform.provide(Greeter, greeter))
    consumer = plugin("consumer", sheepfold_register_routes=lambda platform: found.append(platform.require(Greeter)))
    create_app(load_entry_points=False, plugins=[provider, consumer])
    assert found == [greeter]


def test_requiring_a_service_nobody_provided_names_it():
    app = create_app(load_entry_points=False)

    class Missing:
        pass

    with pytest.raises(LookupError, match=r"Missing"):
        app.platform.require(Missing)


def test_a_service_is_provided_under_a_class_or_protocol_and_nothing_else():
    app = create_app(load_entry_points=False)

    class Greeter(Protocol):
        def greet(self) -> str: ...

    class English:
        def greet(self) -> str:
            return "hello"

    app.platform.provide(Greeter, English())
    assert app.platform.require(Greeter).greet() == "hello"
    with pytest.raises(TypeError, match="class"):
        app.platform.provide("greeter", English())


def test_plugin_host_lists_hooks_per_plugin():
    host = PluginHost()
    host.load(builtins=[], entry_points=False, explicit=[plugin("p", sheepfold_shutdown=lambda: None)])
    assert host.infos["p"].hooks == ["sheepfold_shutdown"]


def test_a_plugin_registers_hooks_its_settings_turn_on_and_later_hooks_call_them():
    """``platform.plugins.register`` from ``sheepfold_configure_app``: as pytest's ``pluginmanager.register``."""
    spans: list[str] = []

    class Tracer:
        def sheepfold_span(self, operation: str) -> None:
            spans.append(operation)

    def configure_app(platform) -> None:
        if platform.settings.get("tracer.on"):
            platform.plugins.register(Tracer(), name="tracer.hooks")

    def build(on: bool):
        return create_app(
            {"tracer": {"on": on}},
            load_entry_points=False,
            plugins=[plugin("tracer", sheepfold_configure_app=configure_app)],
        ).platform

    off = build(False)
    assert off.propagation.enabled is False and "tracer.hooks" not in off.plugins.infos
    on = build(True)
    assert on.propagation.enabled is True
    assert on.plugins.infos["tracer.hooks"].source == "registered"
    assert on.plugins.infos["tracer.hooks"].hooks == ["sheepfold_span"]
    with on.propagation.span("GET", {}):
        pass
    assert spans == ["GET"]


def test_registering_refuses_what_loading_refuses():
    platform = create_app(load_entry_points=False, plugins=[plugin("taken")]).platform

    class Typo:
        def sheepfold_spam(self) -> None: ...

    class Async:
        async def sheepfold_span(self) -> None: ...

    with pytest.raises(PluginError, match=r"share this name"):
        platform.plugins.register(object(), name="taken")
    with pytest.raises(PluginError, match=r"'typo'.*sheepfold_spam"):
        platform.plugins.register(Typo(), name="typo")
    with pytest.raises(PluginError, match=r"must be synchronous"):
        platform.plugins.register(Async(), name="async")
    assert platform.propagation.enabled is False  # refused, not half-registered
    assert {"typo", "async"}.isdisjoint(platform.plugins.infos)
