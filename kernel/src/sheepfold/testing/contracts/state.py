"""The state port's contract, for every adapter of it (the kernel's, a plugin's, a third party's)."""

from __future__ import annotations

import asyncio

import pytest

from sheepfold.state import State


class StateContract:
    """The ``State`` port's contract: subclass it, with a ``state`` fixture yielding a fresh adapter.

    The fixture yields the adapter started and empty, and closes it afterwards.
    """

    async def test_get_of_a_missing_key_is_none(self, state: State) -> None:
        assert await state.get("missing") is None

    async def test_set_then_get_returns_the_bytes(self, state: State) -> None:
        await state.set("k", b"\x00value\xff")
        assert await state.get("k") == b"\x00value\xff"

    async def test_set_replaces_value_and_ttl(self, state: State) -> None:
        await state.set("k", b"one", ttl=0.2)
        await state.set("k", b"two")
        await asyncio.sleep(0.3)
        assert await state.get("k") == b"two"

    async def test_a_value_expires_after_its_ttl(self, state: State) -> None:
        await state.set("k", b"v", ttl=0.15)
        assert await state.get("k") == b"v"
        await asyncio.sleep(0.3)
        assert await state.get("k") is None

    async def test_delete_says_whether_the_key_existed(self, state: State) -> None:
        await state.set("k", b"v")
        assert await state.delete("k") is True
        assert await state.delete("k") is False
        assert await state.get("k") is None

    async def test_incr_starts_at_zero_and_adds(self, state: State) -> None:
        assert await state.incr("n") == 1
        assert await state.incr("n", 5) == 6
        assert await state.incr("n", -2) == 4
        assert await state.get("n") == b"4"

    async def test_incr_applies_the_ttl_only_when_it_creates_the_key(self, state: State) -> None:
        assert await state.incr("n", ttl=0.3) == 1
        await asyncio.sleep(0.15)
        assert await state.incr("n", ttl=10) == 2  # must not extend the first TTL
        await asyncio.sleep(0.3)
        assert await state.get("n") is None

    async def test_incr_of_a_non_integer_is_refused(self, state: State) -> None:
        await state.set("k", b"abc")
        with pytest.raises(Exception):  # noqa: B017 - each backend names its own error
            await state.incr("k")
        assert await state.get("k") == b"abc"

    async def test_concurrent_increments_are_not_lost(self, state: State) -> None:
        await asyncio.gather(*(state.incr("n") for _ in range(200)))
        assert await state.get("n") == b"200"

    async def test_keys_are_independent(self, state: State) -> None:
        await state.set("a", b"1")
        await state.set("b", b"2")
        await state.delete("a")
        assert await state.get("b") == b"2"

    async def test_ping_succeeds_when_the_backend_serves(self, state: State) -> None:
        await state.ping()
