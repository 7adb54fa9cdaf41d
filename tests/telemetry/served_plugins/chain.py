"""A single-file plugin for the chain test: a route that touches Redis and enqueues a job that publishes an event."""

from __future__ import annotations

from blacksheep import Response, Router, json

from sheepfold import Identity, Platform, hookimpl
from sheepfold.jobs import JobContext, JobDefinition, Jobs
from sheepfold_realtime import ChannelRule, RealtimeHub
from sheepfold_redis import RedisConnection

QUEUE = "chain"


async def announce(ctx: JobContext, channel: str, order: str) -> None:
    await RealtimeHub.of(ctx.platform).publish(channel, {"order": order, "job": ctx.job_id})


@hookimpl
def sheepfold_jobs() -> list[JobDefinition]:
    return [JobDefinition(announce, queue=QUEUE, timeout=5.0)]


@hookimpl
def sheepfold_realtime_channels() -> list[ChannelRule]:
    return [ChannelRule("chain", lambda identity, channel: isinstance(identity, Identity), "anyone")]


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    async def order(channel: str) -> Response:
        number = await RedisConnection.of(platform).client.incr("chain-test:orders")
        job_id = await platform.require(Jobs).enqueue("announce", (channel, f"order-{number}"))
        return json({"job": job_id})

    router.add_post("/chain/{channel}", order)
