"""Bare BlackSheep doing the fleet routes' work by hand: raw redis-py and asyncpg, no sheepfold.

What a team writes without the platform: ``GET /fleet/work`` counts the
client in a fixed one-minute window (``INCR`` + ``EXPIRE``), reads the session
(``GET`` of the cookie's key) and the cached response (``GET``), and builds
and stores the response on a miss; ``/fleet/db`` runs the same 5 ms query on
an asyncpg pool; ``/fleet/job`` pushes a job record on a list. Nothing handles
an outage: a Redis that is down is a 500, as it is in such code.

Configured by the environment: ``FLEET_REDIS_URL``, ``FLEET_DATABASE_DSN``,
``FLEET_COOKIE`` (the session cookie's name), ``FLEET_PREFIX`` (key prefix).
"""

from __future__ import annotations

import json
import os
import time

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import redis.asyncio as redis
from blacksheep import Application, Content, Request, Response, Router

RATE_LIMIT_PER_MINUTE = 1_000_000
CACHE_TTL = 30
QUERY_SECONDS = 0.005


def create_app() -> Application:
    """The app ``uvicorn --factory`` serves."""
    app = Application(router=Router())
    prefix = os.environ.get("FLEET_PREFIX", "fleetbare")
    cookie = os.environ.get("FLEET_COOKIE", "session")
    client = redis.Redis.from_url(
        os.environ["FLEET_REDIS_URL"], socket_timeout=0.25, socket_connect_timeout=0.25, max_connections=64
    )
    pool: list[asyncpg.Pool] = []

    def answer(subject: str | None, body: bytes) -> Response:
        response = Response(200, None, Content(b"application/json", body))
        if subject:
            response.headers[b"X-Fleet-Subject"] = subject.encode()
        return response

    async def subject_of(request: Request) -> str | None:
        session_id = request.cookies.get(cookie)
        if not session_id:
            return None
        user = await client.get(f"{prefix}:session:{session_id}")
        return None if user is None else user.decode()

    async def work(request: Request) -> Response:
        window = int(time.time() // 60)
        counter = f"{prefix}:rate:{request.client_ip}:{window}"
        count = await client.incr(counter)
        if count == 1:
            await client.expire(counter, 60)
        if count > RATE_LIMIT_PER_MINUTE:
            return Response(429)
        subject = await subject_of(request)
        key = f"{prefix}:cache:{subject or ''}"
        body = await client.get(key)
        if body is None:
            body = json.dumps({"subject": subject}).encode()
            await client.set(key, body, ex=CACHE_TTL)
        return answer(subject, body)

    async def database(request: Request) -> Response:
        async with pool[0].acquire() as connection:
            value = await connection.fetchval("SELECT 1 FROM pg_sleep($1)", QUERY_SECONDS)
        subject = await subject_of(request)
        return answer(subject, json.dumps({"subject": subject, "value": value}).encode())

    async def job(request: Request) -> Response:
        await client.lpush(f"{prefix}:jobs:high", json.dumps({"function": "noop", "at": time.time()}))
        subject = await subject_of(request)
        return answer(subject, json.dumps({"subject": subject}).encode())

    async def start(_app: Application) -> None:
        pool.append(await asyncpg.create_pool(os.environ["FLEET_DATABASE_DSN"], min_size=1, max_size=20))

    async def stop(_app: Application) -> None:
        await client.aclose()
        if pool:
            await pool[0].close()

    app.router.add_get("/fleet/work", work)
    app.router.add_get("/fleet/db", database)
    app.router.add_get("/fleet/job", job)
    app.router.add_get("/health/live", lambda: Response(200))
    app.on_start += start
    app.on_stop += stop
    return app
