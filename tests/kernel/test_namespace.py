"""``platform.namespace(plugin)``: a plugin's own keys and tags."""

from __future__ import annotations

import pytest

from sheepfold import Namespace, create_app


def test_keys_and_tags_start_with_the_plugin_name():
    names = Namespace("example")
    assert names.key("visits") == "example:visits"
    assert names.key("greeting", "ada") == "example:greeting:ada"
    assert names.key("user", 42, "recent") == "example:user:42:recent"
    assert names.tag("greetings") == "example:greetings"


def test_two_plugins_never_share_a_key():
    # "a" + "b:c" and "a:b" + "c" would meet if a plugin name could hold the separator.
    assert Namespace("a").key("b:c") == "a:b:c"
    with pytest.raises(ValueError):
        Namespace("a:b")


@pytest.mark.parametrize("name", ["", "Example", "my plugin", "x{1}", "-lead", "a:b"])
def test_a_namespace_is_a_plugin_name(name):
    with pytest.raises(ValueError):
        Namespace(name)


def test_a_key_names_at_least_one_part():
    with pytest.raises(ValueError):
        Namespace("example").key()
    with pytest.raises(ValueError):
        Namespace("example").tag()


def test_the_platform_hands_a_plugin_its_namespace():
    platform = create_app({}, load_entry_points=False).platform
    assert platform.namespace("example") == Namespace("example")
    assert platform.namespace("example").key("visits") == "example:visits"
