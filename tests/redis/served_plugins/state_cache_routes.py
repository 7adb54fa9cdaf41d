"""A single-file plugin with HTTP routes onto the state and cache ports, for tests that drive them over HTTP.

Loaded in-process by the outage tests and through ``plugins.directory`` by
the ``sheepfold serve`` processes of the cross-instance test.
"""

from __future__ import annotations

from blacksheep import Request, Response, Router, text

from sheepfold import Cache, Platform, State, hookimpl


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    state = platform.require(State)
    cache = platform.require(Cache)

    async def incr(key: str) -> Response:
        return text(str(await state.incr(key)))

    async def put_state(key: str, request: Request) -> Response:
        await state.set(key, await request.read() or b"")
        return Response(204)

    async def get_state(key: str) -> Response:
        value = await state.get(key)
        return Response(404) if value is None else text(value.decode())

    async def put_cache(key: str, request: Request) -> Response:
        await cache.set(key, await request.read() or b"", tags=[request.query.get("tag", ["t"])[0]])
        return Response(204)

    async def get_cache(key: str) -> Response:
        value = await cache.get(key)
        return Response(404) if value is None else text(value.decode())

    async def invalidate(tag: str) -> Response:
        return text(str(await cache.invalidate_tag(tag)))

    router.add_post("/t/state/{key}/incr", incr)
    router.add_put("/t/state/{key}", put_state)
    router.add_get("/t/state/{key}", get_state)
    router.add_put("/t/cache/{key}", put_cache)
    router.add_get("/t/cache/{key}", get_cache)
    router.add_delete("/t/cache-tag/{tag}", invalidate)
