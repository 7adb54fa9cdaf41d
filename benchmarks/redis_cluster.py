"""Ops/s of sheepfold's Redis ports on a Redis Cluster, per shard, beside redis-benchmark's raw GET and SET.

For each operation (cache get-hit, session read-and-touch, rate-limit hit,
state increment, a sharded pub/sub publish to a channel this process
subscribes), ``--ops`` calls from ``--concurrency`` tasks go through
the Redis adapter on a ``RedisCluster`` connection, over ``--keys``
distinct keys (spread over every primary by their hash tags). Printed:
calls/s through the adapter, and for each primary the commands it
processed per second meanwhile (``INFO stats total_commands_processed``,
so commands scripts run count too) and its share of them. Then
``redis-benchmark --cluster`` (GET and SET, 50 clients) gives the raw
ceiling of the same cluster on the same machine.

    .venv/bin/python benchmarks/redis_cluster.py --nodes 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002

Start a cluster of your own (``redis-cli --cluster create``, or
``RedisCluster(3, replicas=1).start()`` of ``tests/support/redis_server.py``);
keys go under a fresh prefix and are removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import subprocess
import time
from collections.abc import Awaitable, Callable

import redis

from sheepfold.ratelimit import RateLimitPolicy, RateLimitWindow
from sheepfold.sessions import SessionRecord
from sheepfold_redis import RedisCache, RedisConnection, RedisSettings, RedisState
from sheepfold_redis.ratelimit import RedisRateLimiter
from sheepfold_redis.sessions import RedisSessionRecords
from sheepfold_redis.sharded_pubsub import ShardedRedisPubSub

Call = Callable[[int], Awaitable[object]]
POLICY = RateLimitPolicy("bench", (RateLimitWindow(10**9, 60),))


def processed(primaries: list[tuple[str, int]]) -> list[int]:
    """``total_commands_processed`` of each primary now."""
    counts = []
    for host, port in primaries:
        with redis.Redis(host=host, port=port) as client:
            counts.append(int(client.info("stats")["total_commands_processed"]))
    return counts


async def measure(call: Call, ops: int, concurrency: int) -> float:
    """Seconds that ``ops`` calls of ``call(number)`` took from ``concurrency`` tasks."""

    async def worker(first: int) -> None:
        for number in range(first, ops, concurrency):
            await call(number)

    started = time.perf_counter()
    await asyncio.gather(*(worker(first) for first in range(concurrency)))
    return time.perf_counter() - started


async def port_calls(args: argparse.Namespace) -> None:
    nodes = tuple((host, int(port)) for host, _, port in (node.rpartition(":") for node in args.nodes.split(",")))
    settings = RedisSettings(cluster_nodes=nodes, prefix=f"bench-{secrets.token_hex(4)}", command_timeout=5.0)
    connection = RedisConnection(settings)
    await connection.client.initialize()
    primaries = [(node.host, int(node.port)) for node in connection.client.get_primaries()]
    cache, state = RedisCache(connection), RedisState(connection)
    sessions, limiter = RedisSessionRecords(connection), RedisRateLimiter(connection)
    now = time.time()
    keys = args.keys
    pubsub, delivered = ShardedRedisPubSub(connection), [0]
    await pubsub.start()
    for number in range(keys):  # one subscriber connection per primary carries them all
        await pubsub.subscribe(f"room-{number}", lambda _channel, _message: delivered.__setitem__(0, delivered[0] + 1))
    for number in range(keys):
        await cache.set(f"page-{number}", b"x" * 200)
        await sessions.create(f"session-{number}", SessionRecord(b"{}", None, 3600.0, now + 7200, now))
    calls: dict[str, Call] = {
        "cache get (hit)": lambda n: cache.get(f"page-{n % keys}"),
        "session read-and-touch": lambda n: sessions.read_and_touch(f"session-{n % keys}"),
        "rate-limit hit": lambda n: limiter.hit(f"client-{n % keys}", POLICY),
        "state incr": lambda n: state.incr(f"counter-{n % keys}"),
        "pub/sub publish": lambda n: pubsub.publish(f"room-{n % keys}", b"x" * 100),
    }
    print(f"{len(primaries)} primaries; {args.ops:,} calls per operation from {args.concurrency} tasks")
    print(f"{'operation':<24} {'calls/s':>10}   commands/s per primary (share)")
    try:
        for name, call in calls.items():
            await measure(call, min(args.ops, 2000), args.concurrency)  # warm-up: scripts loaded, pools open
            before = processed(primaries)
            seconds = await measure(call, args.ops, args.concurrency)
            served = [after - earlier for after, earlier in zip(processed(primaries), before, strict=True)]
            total = sum(served) or 1
            shards = ", ".join(f"{count / seconds:,.0f} ({count / total:.0%})" for count in served)
            print(f"{name:<24} {args.ops / seconds:>10,.0f}   {shards}")
        print(f"{delivered[0]:,} messages delivered to this process's sharded subscribers")
    finally:
        await pubsub.close()
        names = [name async for name in connection.client.scan_iter(match=connection.namespace + "*", count=1000)]
        if names:
            await connection.client.unlink(*names)
        await connection.close()


def raw_ceiling(args: argparse.Namespace) -> None:
    host, _, port = args.nodes.split(",")[0].rpartition(":")
    command = ["redis-benchmark", "--cluster", "-h", host, "-p", port, "-t", "set,get", "-n", "200000", "-c", "50"]
    output = subprocess.run([*command, "-q"], capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        found = re.search(r"^(\w+): ([\d.]+) requests per second", line.strip().split("\r")[-1])
        if found:
            print(f"redis-benchmark --cluster {found[1]:<4} {float(found[2]):>10,.0f} requests/s (whole cluster)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", required=True, help="host:port of the cluster's nodes, comma-separated")
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--keys", type=int, default=1_000)
    args = parser.parse_args()
    asyncio.run(port_calls(args))
    raw_ceiling(args)


if __name__ == "__main__":
    main()
