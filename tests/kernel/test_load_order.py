"""Load order (configure_app before any register_routes, ``sheepfold_after``) and ``platform`` in every hook."""

from __future__ import annotations

import types
from typing import Any

import pytest

from sheepfold import PluginError, create_app, hookimpl
from sheepfold.plugins import PluginHost
from tests.kernel.test_docs import hookspec_names
from tests.support.plugins import needs


class Database:
    """Stands for a service one plugin provides and another uses."""


def provider(name: str = "provider", **attributes: Any) -> object:
    def sheepfold_configure_app(platform: Any) -> None:
        calls.append(f"{name}.configure")
        platform.provide(Database, Database())

    return types.SimpleNamespace(name=name, sheepfold_configure_app=sheepfold_configure_app, **attributes)


def consumer(name: str = "consumer", **attributes: Any) -> object:
    def sheepfold_configure_app(platform: Any) -> None:
        calls.append(f"{name}.configure")
        found["configure"] = platform.find(Database)

    def sheepfold_register_routes(platform: Any) -> None:
        found["routes"] = platform.find(Database)

    return types.SimpleNamespace(
        name=name,
        sheepfold_configure_app=sheepfold_configure_app,
        sheepfold_register_routes=sheepfold_register_routes,
        **attributes,
    )


calls: list[str] = []
found: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def fresh():
    calls.clear()
    found.clear()


def test_a_service_provided_in_configure_app_is_found_from_register_routes_whatever_the_order():
    create_app({}, plugins=[consumer(), provider()], load_entry_points=False)
    assert found["configure"] is None  # the provider had not run yet
    assert isinstance(found["routes"], Database)  # every configure_app ran before any register_routes


def test_sheepfold_after_moves_a_plugin_after_the_ones_it_names():
    app = create_app({}, plugins=[consumer(sheepfold_after=("provider",)), provider()], load_entry_points=False)
    assert calls == ["provider.configure", "consumer.configure"]
    assert isinstance(found["configure"], Database)
    names = [info.name for info in app.platform.plugins.enabled]
    assert names.index("provider") < names.index("consumer")


@needs("sheepfold_sessions")
def test_sheepfold_after_matches_a_distribution_name():
    plugin = consumer(sheepfold_after=("sheepfold-sessions",))
    import sheepfold_sessions.plugin as sessions_plugin

    host = PluginHost()
    host.load(builtins=[], entry_points=False, explicit=[plugin, sessions_plugin])
    assert [info.name for info in host.enabled] == ["sheepfold_sessions.plugin", "consumer"]


def test_sheepfold_after_naming_a_plugin_that_is_not_installed_fails_start_up():
    with pytest.raises(PluginError, match=r"consumer.*'databse', which is not installed"):
        create_app({}, plugins=[consumer(sheepfold_after=("databse",))], load_entry_points=False)


def test_sheepfold_after_naming_a_disabled_plugin_is_satisfied():
    create_app(
        {"plugins": {"disabled": ["provider"]}},
        plugins=[consumer(sheepfold_after=("provider",)), provider()],
        load_entry_points=False,
    )
    assert calls == ["consumer.configure"]


def test_a_cycle_of_sheepfold_after_fails_start_up_naming_its_plugins():
    with pytest.raises(PluginError, match="cycle among: consumer, provider"):
        create_app(
            {},
            plugins=[consumer(sheepfold_after=("provider",)), provider(sheepfold_after=("consumer",))],
            load_entry_points=False,
        )


@pytest.mark.parametrize("hook", [name for name in hookspec_names() if name != "sheepfold_register_commands"])
def test_every_hook_called_for_an_app_can_receive_the_platform(hook):
    assert "platform" in getattr(PluginHost().manager.hook, hook).spec.argnames


def test_hooks_that_took_no_arguments_receive_the_platform_when_they_name_it():
    seen: dict[str, Any] = {}

    class Reads:
        name = "reads_settings"

        @hookimpl
        def sheepfold_settings_validators(self, platform: Any) -> list[Any]:
            seen["validators"] = platform
            return []

        @hookimpl
        def sheepfold_register_providers(self, register: Any, platform: Any) -> None:
            seen["providers"] = platform

        @hookimpl
        def sheepfold_jobs(self, platform: Any) -> list[Any]:
            seen["jobs"] = platform
            return []

    app = create_app({}, plugins=[Reads()], load_entry_points=False)
    from sheepfold.jobs.registry import JobRegistry

    JobRegistry.of(app.platform)
    assert seen == {"validators": app.platform, "providers": app.platform, "jobs": app.platform}
