from __future__ import annotations

import pytest

import sheepfold_example.plugin as example
from sheepfold import Cache, SettingsError, State, create_app

ADMIN_TOKEN = "example-tests-admin-token-0123456789abcdef"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def client(sheepfold_app):
    settings = {"example": {"greeting": "Ahoy"}, "admin": {"token": ADMIN_TOKEN}}
    return (await sheepfold_app(settings, plugins=[example])).client


async def test_hello_greets_by_name_and_counts_visits(client):
    first = await (await client.get("/example/hello", query={"name": "ada"})).json()
    second = await (await client.get("/example/hello", query={"name": "ada"})).json()
    assert first == {"message": "Ahoy, ada!", "visits": 1}
    assert second["visits"] == 2


async def test_health_includes_the_example_component(client):
    report = await (await client.get("/health", headers=ADMIN_HEADERS)).json()
    assert report["components"]["example"] == {
        "status": "ok",
        "required": False,
        "greeting": "Ahoy",
        "jobs_waiting": 0,
    }


def test_an_empty_greeting_stops_start_up_naming_the_key():
    with pytest.raises(SettingsError, match=r"example.greeting"):
        create_app({"example": {"greeting": ""}}, plugins=[example], load_entry_points=False)


async def test_the_example_keeps_its_keys_and_tags_in_its_own_namespace(sheepfold_app):
    test_app = await sheepfold_app({"admin": {"token": ADMIN_TOKEN}}, plugins=[example])
    await test_app.client.get("/example/hello", query={"name": "ada"})
    assert await test_app.platform.require(State).get("example:visits") == b"1"
    assert await test_app.platform.require(Cache).invalidate_tag("example:greetings") == 1
