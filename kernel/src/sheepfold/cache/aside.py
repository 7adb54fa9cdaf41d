"""Cache-aside with single flight: one caller computes a missing value, the others wait."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sheepfold.cache.port import Cache

Encode = Callable[[Any], bytes]
Decode = Callable[[bytes], Any]


def _encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class CacheAside:
    """Read through a :class:`Cache`, computing and storing what is missing.

    Concurrent callers of :meth:`get_or_compute` for the same key in this
    process share one computation (single flight), so a popular key that
    expires costs one computation per instance, not one per request. Values
    are JSON by default; pass ``encode``/``decode`` for another codec.
    """

    def __init__(self, cache: Cache, *, encode: Encode = _encode_json, decode: Decode = json.loads) -> None:
        self.cache = cache
        self._encode = encode
        self._decode = decode
        self._in_flight: dict[str, asyncio.Future[Any]] = {}

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
