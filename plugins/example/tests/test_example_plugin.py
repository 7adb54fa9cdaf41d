from __future__ import annotations

import pytest
from blacksheep.contents import JSONContent

import sheepfold_database.plugin as database
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


async def test_the_guestbook_lists_are_cached_until_a_new_entry(sheepfold_app):
    kit = await sheepfold_app({"database": {"url": "sqlite+aiosqlite://"}}, plugins=[database, example])

    async def messages(path: str) -> list[str]:
        return [entry["message"] for entry in (await (await kit.client.get(path)).json())["entries"]]

    async def sign(message: str) -> None:
        body = JSONContent({"author": "ada", "message": message})
        assert (await kit.client.post("/example/guestbook", content=body)).status == 201

    await sign("first")
    for _ in range(3):
        assert await messages("/example/guestbook?author=ada") == ["first"]
        assert await messages("/example/guestbook/recent") == ["first"]
    await sign("second")
    assert await messages("/example/guestbook?author=ada") == ["second", "first"]
    assert await messages("/example/guestbook/recent") == ["second", "first"]
    hits, misses = kit.platform.metrics.cache_hits, kit.platform.metrics.cache_misses
    assert [hits.value("query.example.guestbook"), misses.value("query.example.guestbook")] == [2, 2]
