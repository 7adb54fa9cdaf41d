from __future__ import annotations

import pytest
from blacksheep.testing import TestClient

import sheepfold_example.plugin as example
from sheepfold import Cache, SettingsError, State, create_app
from tests.support.admin import ADMIN_HEADERS


@pytest.fixture
async def client():
    app = create_app({"example": {"greeting": "Ahoy"}}, plugins=[example], load_entry_points=False)
    await app.start()
    yield TestClient(app)
    await app.stop()


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


async def test_the_example_keeps_its_keys_and_tags_in_its_own_namespace():
    app = create_app({}, plugins=[example], load_entry_points=False)
    await app.start()
    try:
        await TestClient(app).get("/example/hello", query={"name": "ada"})
        assert await app.platform.require(State).get("example:visits") == b"1"
        assert await app.platform.require(Cache).invalidate_tag("example:greetings") == 1
    finally:
        await app.stop()
