"""Cache-aside with single flight: one caller computes a missing value, the others wait."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from sheepfold.cache.port import Cache

if TYPE_CHECKING:
    from sheepfold.metrics import PlatformMetrics

Encode = Callable[[Any], bytes]
Decode = Callable[[bytes], Any]
#: The ``cache`` label of keys without a namespace (no ``:``).
UNNAMED_CACHE = "default"
#: Distinct ``cache`` labels counted at most; the namespaces seen after that count as ``"other"``, so that keys
#: whose first part is data (an id) cannot grow the metrics without bound.
MAX_CACHE_NAMES = 64


def _encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class CacheAside:
    """Read through a :class:`Cache`, computing and storing what is missing.

    Concurrent callers of :meth:`get_or_compute` for the same key in this
    process share one computation (single flight), so a popular key that
    expires costs one computation per instance, not one per request. Values
    are JSON by default; pass ``encode``/``decode`` for another codec.

    With ``metrics`` (the platform's, as the ``CacheAside`` that handlers
    receive has), each look-up counts as a hit or a miss in
    ``sheepfold_cache_hits_total{cache}`` / ``sheepfold_cache_misses_total{cache}``,
    ``cache`` being the key's namespace (``example`` for
    ``platform.namespace("example").key(...)``, :data:`UNNAMED_CACHE` without one).
    """

    def __init__(
        self,
        cache: Cache,
        *,
        encode: Encode = _encode_json,
        decode: Decode = json.loads,
        metrics: PlatformMetrics | None = None,
    ) -> None:
        self.cache = cache
        self._encode = encode
        self._decode = decode
        self._in_flight: dict[str, asyncio.Future[Any]] = {}
        self._hits = metrics.cache_hits.inc if metrics is not None else None
        self._misses = metrics.cache_misses.inc if metrics is not None else None
        self._names: set[str] = set()

    async def get_or_compute(
        self,
        key: str,
        compute: Callable[[], Awaitable[Any]],
        *,
        ttl: float | None = None,
        tags: Iterable[str] = (),
    ) -> Any:
        """The cached value of ``key``, or the result of ``compute()`` stored with ``ttl`` and ``tags``.

        An exception from ``compute`` reaches every waiting caller and
        nothing is stored.
        """
        cached = await self.cache.get(key)
        count = self._hits if cached is not None else self._misses
        if count is not None:
            count(self._cache_name(key))
        if cached is not None:
            return self._decode(cached)
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await compute()
            await self.cache.set(key, self._encode(value), ttl, tags)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # a lone caller re-raises below; don't log "never retrieved"
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._in_flight[key]

    def _cache_name(self, key: str) -> str:
        namespace, colon, _ = key.partition(":")
        name = namespace if colon else UNNAMED_CACHE
        if name not in self._names:
            if len(self._names) >= MAX_CACHE_NAMES:
                return "other"
            self._names.add(name)
        return name
