"""Strict backend mode: a test that asked for Redis runs on Redis or fails saying why, never on memory unnoticed."""

from __future__ import annotations

import pytest

from sheepfold.testing import BackendMismatch, assert_backends, spare_port, started_app
from tests.support.plugins import needs

pytestmark = needs("sheepfold_redis")


def redis_plugin():
    from sheepfold_redis import plugin

    return plugin


def down_redis() -> dict:
    """plugin-redis pointed at a loopback port nothing listens on (connections refused at once)."""
    return {"redis": {"url": f"redis://127.0.0.1:{spare_port()}/0", "connect_timeout": 0.5, "command_timeout": 0.5}}


async def test_a_backend_down_at_start_fails_a_strict_start_naming_capability_and_error():
    with pytest.raises(BackendMismatch) as failure:
        async with started_app(down_redis(), [redis_plugin()], backends={"state": "redis", "cache": "redis"}):
            pytest.fail("a strict start must not run the test on the fallback")
    message = str(failure.value)
    assert "state: fallback, served by 'memory' instead of its backend 'redis'" in message
    assert "cache: fallback" in message


async def test_without_strict_the_app_starts_on_the_fallback_and_assert_backends_says_so():
    async with started_app(down_redis(), [redis_plugin()], backends={"state": "redis"}, strict=False) as kit:
        assert kit.platform.capabilities["state"].active_name == "memory"
        with pytest.raises(BackendMismatch, match="state: fallback"):
            assert_backends(kit.platform)


async def test_on_a_live_redis_the_strict_start_passes_and_the_backends_match(sheepfold_app, redis_settings):
    kit = await sheepfold_app(redis_settings, [redis_plugin()], backends={"state": "redis", "cache": "redis"})
    assert_backends(kit.platform, {"state": "redis", "cache": "redis"})
    with pytest.raises(BackendMismatch, match="configured backend is 'memory', not 'redis'"):
        assert_backends(kit.platform, {"ratelimit": "redis"})
    with pytest.raises(BackendMismatch, match="no such capability"):
        assert_backends(kit.platform, {"queues": "redis"})
