"""Every adapter of every port that the contract suites run against.

Adding an adapter to a port's contract suite is one entry here: a name and an
async context manager that yields a fresh, started, empty adapter. It receives
pytest's ``request`` so it can ask for fixtures (``redis_url``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from sheepfold.cache.memory import MemoryCache
from sheepfold.ratelimit.memory import MemoryRateLimiter
from sheepfold.state.memory import MemoryState

AdapterContext = Callable[[pytest.FixtureRequest], contextlib.AbstractAsyncContextManager[Any]]


def started(make: Callable[[], Any]) -> AdapterContext:
    @contextlib.asynccontextmanager
    async def context(_request: pytest.FixtureRequest) -> AsyncIterator[Any]:
        adapter = make()
        await adapter.start()
        try:
            yield adapter
        finally:
            await adapter.close()

    return context


STATE_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemoryState(max_entries=1000)),
}

CACHE_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemoryCache(max_entries=1000)),
}

RATELIMIT_ADAPTERS: dict[str, AdapterContext] = {
    "memory": started(lambda: MemoryRateLimiter(max_entries=1000)),
}
