"""The one Redis connection of a platform, shared by every Redis adapter and plugin.

Other plugins never open their own client: they ask for this one with
``RedisConnection.of(platform)`` (usable from an adapter factory, which runs
before ``sheepfold_configure_app``), or ``platform.require(RedisConnection)``
once it exists, or by declaring ``connection: RedisConnection`` in a handler.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.asyncio import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from sheepfold.errors import BackendUnavailable
from sheepfold_redis.client import RedisClient, build_client
from sheepfold_redis.failures import unavailable_on_failure
from sheepfold_redis.multiplex import MultiplexedConnection, multiplexed_for
from sheepfold_redis.settings import RedisSettings

if TYPE_CHECKING:
    from redis.asyncio.sentinel import Sentinel

    from sheepfold.platform import Platform
    from sheepfold.propagation import Propagation

KEY_ROOT = "sheepfold"


@dataclass(frozen=True)
class PoolUsage:
    """Connections the process holds on Redis: ``in_use`` by a call now, ``free`` idle in the pool, ``size`` the cap.

    For a cluster, counts are summed over the nodes and ``size`` is per node.
    """

    in_use: int
    free: int
    size: int


class RedisConnection:
    """The platform's shared redis-py asyncio client, its key namespace and its scripts.

    Attributes:
        client: the one ``redis.asyncio.Redis`` (URL or Sentinel master) or
            ``redis.asyncio.RedisCluster`` of this platform. It connects on its
            first command and reconnects after an outage by itself; it replies
            with ``bytes`` (``decode_responses=False``). Wrap calls in
            :func:`~sheepfold_redis.unavailable_on_failure` so that Redis
            being down reaches the fallback switch as ``BackendUnavailable``.
        settings: the validated :class:`~sheepfold_redis.RedisSettings`.
        namespace: ``"sheepfold:"`` or ``"sheepfold:<prefix>:"``; every key
            starts with it, so apps with different prefixes share one Redis.
        is_cluster: True when ``client`` is a ``RedisCluster``: keys touched by
            one script or transaction must then share a hash tag (:meth:`key`).
        execute: ``await connection.execute("HGET", name, field)`` runs one
            command and returns Redis's raw reply (``bytes``, ``int``, ``list``,
            ``None``). On a plain ``redis://`` or ``unix://`` server (unless
            ``redis.multiplex = false``) it goes over :attr:`multiplexed`, one
            connection that all concurrent callers share (see
            ``sheepfold_redis.multiplex``); elsewhere (TLS, Sentinel,
            Cluster, an injected client) it is ``client.execute_command``. For
            hot single commands whose reply needs no redis-py conversion; wrap
            it in :func:`~sheepfold_redis.unavailable_on_failure` like any call.
    """

    def __init__(self, settings: RedisSettings, *, client: RedisClient | None = None) -> None:
        """Build the client for ``settings`` (no I/O); tests may pass a ready ``client`` (fakeredis)."""
        self.settings = settings
        self.namespace = f"{KEY_ROOT}:{settings.prefix}:" if settings.prefix else f"{KEY_ROOT}:"
        sentinel = None
        if client is None:
            client, sentinel = build_client(settings)
        self.client: RedisClient = client
        self.is_cluster = isinstance(client, RedisCluster)
        self.closed = False
        self._sentinel: Sentinel | None = sentinel
        #: The connection :meth:`execute` shares between callers, when the topology allows one.
        self.multiplexed: MultiplexedConnection | None = multiplexed_for(client) if settings.multiplex else None
        # An attribute, not a method that forwards: this runs for every rate-limited or session request.
        self.execute: Callable[..., Awaitable[Any]] = (
            self.multiplexed.execute if self.multiplexed is not None else client.execute_command
        )

    @classmethod
    def of(cls, platform: Platform) -> RedisConnection:
        """The platform's connection, created from ``[redis]`` settings and provided on first call.

        Safe to call from an adapter factory (``sheepfold_register_providers``)
        or any later hook; every caller gets the same instance. Does no I/O.
        The platform closes it last, after its tasks and capabilities (see
        :meth:`~sheepfold.platform.Platform.close_last`).
        Raises :class:`~sheepfold.errors.SettingsError` for conflicting settings.
        """
        connection = platform.find(cls)
        if connection is None:
            connection = cls(RedisSettings.from_settings(platform.settings))
            platform.provide(cls, connection)
            platform.close_last(connection.close)
        return connection

    def key(self, *parts: str | int, tag: str | int | None = None) -> str:
        """A namespaced key: ``key("rl", "alice")`` is ``"sheepfold:<prefix>:rl:alice"``.

        With ``tag``, a Cluster hash tag follows the namespace:
        ``key("rl", "alice", tag="alice")`` is ``"sheepfold:<prefix>:{alice}:rl:alice"``.
        Redis Cluster places a key by the text between its first ``{`` and
        ``}``, so keys built with the same ``tag`` share a slot and one script
        or transaction may touch them all. Parts and tags must not contain
        ``{`` or ``}`` (ValueError): that would move the key's slot.
        """
        text = ":".join(str(part) for part in parts)
        if "{" in text or "}" in text:
            raise ValueError(f"key parts must not contain braces: {text!r}")
        if tag is None:
            return self.namespace + text
        tag_text = str(tag)
        if not tag_text or "{" in tag_text or "}" in tag_text:
            raise ValueError(f"a hash tag must be non-empty and without braces: {tag_text!r}")
        return f"{self.namespace}{{{tag_text}}}:{text}"

    def script(self, source: str) -> AsyncScript:
        """A Lua script run with EVALSHA: ``await script(keys=[...], args=[...])``.

        Built on redis-py's ``register_script``: the script is sent once by its
        SHA1; when Redis answers NOSCRIPT (a restarted or failed-over server,
        a cluster node that never saw it) it is loaded (on every primary of a
        cluster) and run again. Call this once per script at adapter
        construction, not per call. All keys of one call must be in one slot
        on a cluster (give them the same ``tag`` in :meth:`key`).
        """
        return self.client.register_script(source)  # type: ignore[misc]  # redis-py types its self as Redis; RedisCluster has it too

    async def run_script(self, script: AsyncScript, keys: list[Any], args: list[Any]) -> Any:
        """``EVALSHA`` of a :meth:`script` by :meth:`execute`; on NOSCRIPT the script object loads it and runs it."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await script(keys=keys, args=args)

    async def run_script_and_wait(
        self, script: AsyncScript, keys: list[Any], args: list[Any], *, replicas: int, timeout: float
    ) -> tuple[Any, int]:
        """Run a :meth:`script`, then ``WAIT`` until ``replicas`` replicas have its writes or ``timeout`` s pass.

        Both go in one round trip on one pooled connection (``WAIT`` counts the
        writes of its own connection; on a cluster, the connection to the
        primary of ``keys[0]``), never on the shared :attr:`multiplexed` one,
        which a blocked ``WAIT`` would hold up for every caller. Returns the
        script's reply and how many replicas acknowledged (fewer than
        ``replicas`` when the timeout passed: the write stands on the primary
        all the same). On NOSCRIPT the script is loaded and both sent again
        (the script did not run). Raises what redis-py raises.
        """
        wait: list[Any] = ["WAIT", replicas, max(1, round(timeout * 1000))]
        options: dict[str, Any] = {}
        if isinstance(self.client, RedisCluster):
            await self.client.initialize()  # a no-op once the slot map is known
            options["target_nodes"] = self.client.get_node_from_key(keys[0])

        async def run_then_wait() -> tuple[Any, int]:
            pipe = self.client.pipeline(transaction=False)
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            pipe.execute_command(*wait, **options)
            reply, acknowledged = await pipe.execute()
            return reply, int(acknowledged)

        try:
            return await run_then_wait()
        except NoScriptError:
            await self.client.script_load(script.script)
            return await run_then_wait()

    def pipeline(self) -> Any:
        """A pipeline sent in one round trip (per node): MULTI/EXEC on one server, plain on a cluster.

        A cluster cannot run a transaction across slots, so there the commands
        are not atomic together (each still is); code that needs atomicity on
        every topology uses :meth:`script` with keys that share a hash tag.
        """
        return self.client.pipeline(transaction=not self.is_cluster)

    async def ping(self) -> float:
        """PING Redis; the round trip in milliseconds. Raises ``BackendUnavailable`` when Redis does not answer.

        On a cluster every primary is pinged (the slowest sets the latency).
        After :meth:`close` it raises without touching the network.
        """
        if self.closed:
            raise BackendUnavailable("Redis connection is closed")
        started = time.perf_counter()
        with unavailable_on_failure():
            await self.client.ping()
        return (time.perf_counter() - started) * 1000

    async def server_version(self) -> str | None:
        """``redis_version`` from INFO server (of one node on a cluster); ``BackendUnavailable`` when down."""
        with unavailable_on_failure():
            info: Any = await self.client.info("server")
        if self.is_cluster and info and "redis_version" not in info:
            info = next(iter(info.values()), {})  # per-node answers
        return info.get("redis_version") if isinstance(info, dict) else None

    def pool_usage(self) -> PoolUsage:
        """Connections held now, read from the client's pool(s) without I/O."""
        size = self.settings.pool_size
        if isinstance(self.client, RedisCluster):
            nodes = self.client.get_nodes()
            total = sum(len(node._connections) for node in nodes)
            free = sum(len(node._free) for node in nodes)
            return PoolUsage(in_use=total - free, free=free, size=size)
        pool: Any = self.client.connection_pool
        return PoolUsage(in_use=len(pool._in_use_connections), free=len(pool._available_connections), size=size)

    async def close(self) -> None:
        """Close every pooled connection (and Sentinel's); later :meth:`ping` calls raise. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self.multiplexed is not None:
            await self.multiplexed.aclose()
        await self.client.aclose()
        if self._sentinel is not None:
            for sentinel in self._sentinel.sentinels:
                await sentinel.aclose()


#: What a traced command's span says about it: never its keys or values.
REDIS_SPAN_ATTRIBUTES: dict[str, str | int] = {"db.system": "redis"}


def trace_commands(connection: RedisConnection, propagation: Propagation) -> None:
    """Run each command of the shared connection's :attr:`~RedisConnection.execute` in ``propagation.span``.

    For a plugin that traces (``propagation.enabled`` at start-up: a tracing
    plugin registers its hooks while the app is built): redis-py's
    instrumentation sees the client's commands, not the multiplexed
    connection's. Adapters call ``connection.execute`` each time, so they
    all see the wrapped one; without a tracer a command pays nothing.
    """
    if connection.multiplexed is not None and propagation.enabled:
        connection.execute = traced(connection.execute, propagation)


def traced(execute: Callable[..., Awaitable[Any]], propagation: Propagation) -> Callable[..., Awaitable[Any]]:
    """``execute`` with each command in a span named after it (``platform.propagation.span``)."""

    async def run(*args: Any) -> Any:
        command = args[0]
        with propagation.span(command if isinstance(command, str) else str(command), REDIS_SPAN_ATTRIBUTES):
            return await execute(*args)

    return run
