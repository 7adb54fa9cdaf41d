"""Cache get-hit and state increment through sheepfold against the same operation on raw redis-py.

One run, one Redis, interleaved rounds. Three sides per operation:

- raw redis-py: ``GET`` (cache) / ``INCRBY`` (state) on a plain ``redis.asyncio.Redis`` with its
  defaults (no timeouts: it would wait forever on a silent Redis); ratios are against this side;
- raw, timeouts: the same client with sheepfold's default connect and command timeouts, which
  redis-py enforces with a timer around every read; the difference from raw is their cost;
- adapter: sheepfold's ``RedisCache.get`` (an ``HGET``: values live in a hash with their tags)
  and ``RedisState.incr``, on the connection that concurrent calls share (``redis.multiplex``);
- port: the same call through the capability's fallback switch, as a handler receives it;
- port, no timeout: a switch without ``switch.call_timeout`` (the kernel's per-call
  ``asyncio.timeout``), to show what that bound costs; Redis calls are bounded by the
  connection's own timeouts either way.

Each side runs ``--ops`` calls from ``--concurrency`` tasks; ops/s is the median over
``--rounds``. Round trips per call are counted on the client (socket writes per call; a
pipeline is one write) and checked on the server (INFO commandstats). Goal: port >= 0.9 x
raw, one round trip per call.

    .venv/bin/python benchmarks/redis_ports.py [--url redis://127.0.0.1:6379/0] [--ops 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable

from harness import compare
from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from sheepfold import Cache, FallbackSwitch, State, create_app
from sheepfold_redis import RedisConnection
from sheepfold_redis import plugin as redis_plugin
from sheepfold_redis.multiplex import _MultiplexedProtocol

Call = Callable[[int], Awaitable[object]]


class WriteCounter:
    """Counts socket writes of every redis-py connection and of the multiplexed one: one per round trip."""

    def __init__(self) -> None:
        self.writes = 0
        self._original = Connection.send_packed_command
        self._original_flush = _MultiplexedProtocol._flush

    def __enter__(self) -> WriteCounter:
        original, original_flush = self._original, self._original_flush
        counter = self

        async def counted(connection: Connection, command, check_health: bool = True) -> None:
            counter.writes += 1
            await original(connection, command, check_health)

        def counted_flush(protocol: _MultiplexedProtocol) -> None:
            counter.writes += 1
            original_flush(protocol)

        Connection.send_packed_command = counted  # type: ignore[method-assign]
        _MultiplexedProtocol._flush = counted_flush  # type: ignore[method-assign]
        return self

    def __exit__(self, *_exc: object) -> None:
        Connection.send_packed_command = self._original  # type: ignore[method-assign]
        _MultiplexedProtocol._flush = self._original_flush  # type: ignore[method-assign]


async def ops_per_second(call: Call, ops: int, concurrency: int, cpu: list[float] | None = None) -> float:
    """Calls per second of wall-clock time; appends this process's CPU microseconds per call to ``cpu``.

    CPU time per call is the steadier figure on a shared machine: it counts only what this
    client spends (sheepfold, redis-py, the event loop, syscalls), not time spent waiting for
    Redis or for the CPU.
    """
    per_task = ops // concurrency

    async def task(offset: int) -> None:
        for i in range(per_task):
            await call(offset + i)

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(task(n * per_task) for n in range(concurrency)))
    elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu_started
    if cpu is not None:
        cpu.append(cpu_used / (per_task * concurrency) * 1e6)
    return per_task * concurrency / elapsed


async def round_trips(call: Call, calls: int = 200) -> float:
    with WriteCounter() as counter:
        for i in range(calls):
            await call(i)
    return counter.writes / calls


async def commands_per_call(raw: Redis, call: Call, command: str, calls: int = 200) -> float:
    async def count() -> int:
        return (await raw.info("commandstats")).get(f"cmdstat_{command}", {}).get("calls", 0)

    before = await count()
    for i in range(calls):
        await call(i)
    return (await count() - before) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    try:
        import uvloop

        loop = uvloop.new_event_loop()  # what `sheepfold serve` runs on
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    prefix = f"bench-{secrets.token_hex(3)}"
    settings = {
        "state": {"backend": "redis", "fallback": "memory"},
        "cache": {"backend": "redis", "fallback": "memory"},
        # As many connections as concurrent callers on both sides, so neither waits for its pool.
        "redis": {"url": args.url, "prefix": prefix, "pool_size": max(args.concurrency)},
    }
    app = create_app(settings, plugins=[redis_plugin], load_entry_points=False)
    loop.run_until_complete(app.start())
    connection = app.platform.require(RedisConnection)
    cache_port, state_port = app.platform.require(Cache), app.platform.require(State)
    cache_adapter, state_adapter = (
        app.platform.capabilities["cache"].backend,
        app.platform.capabilities["state"].backend,
    )
    untimed = {
        name: FallbackSwitch(
            name,
            switch.port_type,
            backend_name="redis",
            backend=switch.backend,
            fallback_name="memory",
            fallback=switch.fallback,
            metrics=app.platform.metrics,
            tasks=app.platform.tasks,
            call_timeout=None,
        )
        for name, switch in app.platform.capabilities.items()
        if name in ("cache", "state")
    }
    raw = Redis.from_url(args.url, max_connections=max(args.concurrency))
    timed_settings = connection.settings
    raw_timed = Redis.from_url(
        args.url,
        max_connections=max(args.concurrency),
        socket_timeout=timed_settings.command_timeout,
        socket_connect_timeout=timed_settings.connect_timeout,
    )
    raw_cache_key, raw_state_key = f"{prefix}:raw:cache", f"{prefix}:raw:state"
    loop.run_until_complete(raw.set(raw_cache_key, b"x" * 100))
    loop.run_until_complete(cache_port.set("hit", b"x" * 100, ttl=600))

    operations: dict[str, dict[str, Call]] = {
        "cache get-hit": {
            "raw redis-py": lambda _i: raw.get(raw_cache_key),
            "raw, timeouts": lambda _i: raw_timed.get(raw_cache_key),
            "adapter": lambda _i: cache_adapter.get("hit"),
            "port": lambda _i: cache_port.get("hit"),
            "port, no timeout": lambda _i: untimed["cache"].get("hit"),
        },
        "state incr": {
            "raw redis-py": lambda _i: raw.incrby(raw_state_key, 1),
            "raw, timeouts": lambda _i: raw_timed.incrby(raw_state_key, 1),
            "adapter": lambda _i: state_adapter.incr("counter"),
            "port": lambda _i: state_port.incr("counter"),
            "port, no timeout": lambda _i: untimed["state"].incr("counter"),
        },
    }
    server_commands = {"cache get-hit": ("get", "hget"), "state incr": ("incrby", "incrby")}
    try:
        for operation, sides in operations.items():
            for call in sides.values():  # warm up: connections opened, code paths hot
                loop.run_until_complete(ops_per_second(call, 2000, 8))
            trips = {name: loop.run_until_complete(round_trips(call)) for name, call in sides.items()}
            raw_command, sheepfold_command = server_commands[operation]
            commands = {
                name: loop.run_until_complete(
                    commands_per_call(raw, call, raw_command if name.startswith("raw") else sheepfold_command)
                )
                for name, call in sides.items()
            }
            for concurrency in args.concurrency:
                cpu: dict[str, list[float]] = {name: [] for name in sides}
                results = compare(
                    args.rounds,
                    {
                        name: (
                            lambda call=call, concurrency=concurrency, samples=cpu[name]: loop.run_until_complete(
                                ops_per_second(call, args.ops, concurrency, samples)
                            )
                        )
                        for name, call in sides.items()
                    },
                )
                print(f"\n{operation}, concurrency {concurrency}:")
                raw_cpu = statistics.median(cpu["raw redis-py"])
                for name, rate in results.items():
                    ratio = results.ratio(name, "raw redis-py")
                    cpu_per_call = statistics.median(cpu[name])
                    print(
                        f"  {name:<16} {rate:>9,.0f} ops/s  ratio {ratio:5.3f}  "
                        f"client CPU {cpu_per_call:5.1f} us/call (ratio {raw_cpu / cpu_per_call:5.3f})  "
                        f"round trips/call {trips[name]:.2f}  server commands/call {commands[name]:.2f}"
                    )
        print("\ngoal: port >= 0.9 x raw redis-py, 1 round trip per call (CPU ratio: raw CPU / this side's CPU)")
    finally:
        loop.run_until_complete(connection.client.unlink(f"{connection.namespace}cache:hit"))
        loop.run_until_complete(connection.client.unlink(f"{connection.namespace}state:counter"))
        loop.run_until_complete(raw.unlink(raw_cache_key, raw_state_key))
        loop.run_until_complete(raw.aclose())
        loop.run_until_complete(raw_timed.aclose())
        loop.run_until_complete(app.stop())
        loop.close()


if __name__ == "__main__":
    main()
