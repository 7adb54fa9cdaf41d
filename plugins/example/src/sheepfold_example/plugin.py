"""The example plugin's hooks: a settings section, a route that uses the cache, a health report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from blacksheep import Request, Response, Router, json
from dynaconf import Validator
from sqlalchemy import MetaData

from sheepfold import (
    CacheAside,
    ComponentHealth,
    Identity,
    Jobs,
    Platform,
    State,
    Status,
    hookimpl,
    json_response,
    route_docs,
)
from sheepfold.jobs import JobDefinition
from sheepfold_example import accounts, guestbook, jobs_demo, limited, realtime_page

#: The plugin's name (its entry point): its settings section and the namespace of its keys and tags.
NAME = "example"


@dataclass
class Greeting:
    message: str
    visits: int


def greeting_for(name: str, greeting: str) -> str:
    """The text ``GET /example/hello`` answers with."""
    return f"{greeting}, {name}!"


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    # Every key of the plugin's own section, with its default: an empty settings file works.
    return [
        Validator("example.greeting", default="Hello", is_type_of=str, len_min=1),
        Validator("example.cache_ttl", default=30, is_type_of=(int, float), gt=0),
        *limited.validators(),
        *accounts.validators(),
    ]


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    settings = platform.settings
    # The example's own keys and tags: no other plugin's "visits" or "greetings" can meet these.
    names = platform.namespace(NAME)

    @route_docs(
        summary="A greeting, cached, and a visit counter in shared state",
        query={"name": str | None},
        responses={200: json_response("The greeting", Greeting)},
    )
    async def hello(request: Request, state: State, cache: CacheAside) -> Response:
        # `state` and `cache` arrive through BlackSheep's dependency injection, by type.
        name = request.query.get("name", ["world"])[0][:64]
        visits = await state.incr(names.key("visits"))
        text = await cache.get_or_compute(
            names.key("greeting", name),
            _compute(greeting_for(name, settings.get("example.greeting"))),
            ttl=settings.get("example.cache_ttl"),
            tags=[names.tag("greetings")],
        )
        return json({"message": text, "visits": visits})

    router.add_get("/example/hello", hello)
    limited.add_routes(router)
    accounts.add_routes(router, platform, names)
    guestbook.add_routes(router, platform)
    jobs_demo.add_routes(router, platform)
    realtime_page.add_routes(router, platform)


@hookimpl
def sheepfold_permission_allowed(identity: Identity, action: str) -> bool | None:
    # The example's own permission: moderators may moderate. Other actions are not the example's to answer.
    if action == accounts.MODERATE and identity.has_role("moderator"):
        return True
    return None


@hookimpl
def sheepfold_jobs() -> list[JobDefinition]:
    # count_words, and count_words_for (which pushes its result to the user's socket), on the queue "example"
    return [*jobs_demo.JOBS, *realtime_page.JOBS]


@hookimpl
def sheepfold_migrations() -> list[Path]:
    return [guestbook.MIGRATIONS]  # the guestbook table and its indexes (sheepfold-database runs them)


@hookimpl
def sheepfold_model_metadata() -> list[MetaData]:
    return [guestbook.Base.metadata]  # what `sheepfold db check` compares with the migrated database


def _compute(text: str) -> Callable[[], Awaitable[str]]:
    async def compute() -> str:
        return text

    return compute


@hookimpl
async def sheepfold_health(platform: Platform) -> ComponentHealth:
    # Only the example's own queue is counted (a few commands on Redis), not every queue of the fleet.
    stats = await platform.require(Jobs).statistics(queue=jobs_demo.QUEUE)
    waiting = sum(entry.waiting for entry in stats.queues[jobs_demo.QUEUE].values())
    details = {"greeting": platform.settings.get("example.greeting"), "jobs_waiting": waiting}
    return ComponentHealth(NAME, Status.OK, details=details)
