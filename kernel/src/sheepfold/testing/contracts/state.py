"""The state port's contract, for every adapter of it (the kernel's, a plugin's, a third party's)."""

from __future__ import annotations

import asyncio
import math

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

    # -- get_many

    async def test_get_many_answers_every_key_with_none_where_absent(self, state: State) -> None:
        await state.set("a", b"1")
        await state.set("c", b"3")
        assert await state.get_many(["a", "b", "c"]) == {"a": b"1", "b": None, "c": b"3"}

    async def test_get_many_of_no_keys_is_empty(self, state: State) -> None:
        assert await state.get_many([]) == {}

    async def test_get_many_reads_an_expired_key_as_none(self, state: State) -> None:
        await state.set("short", b"v", ttl=0.1)
        await state.set("long", b"w")
        await asyncio.sleep(0.25)
        assert await state.get_many(["short", "long"]) == {"short": None, "long": b"w"}

    async def test_get_many_reads_a_list_as_none(self, state: State) -> None:
        await state.list_push("recent", b"x", max_length=3)
        await state.set("v", b"1")
        assert await state.get_many(["recent", "v"]) == {"recent": None, "v": b"1"}

    async def test_get_many_spans_many_keys(self, state: State) -> None:
        # Enough keys to land in every slot range of a cluster's nodes.
        keys = [f"user:{n}:name" for n in range(50)]
        for n, key in enumerate(keys):
            await state.set(key, str(n).encode())
        values = await state.get_many([*keys, "user:none"])
        assert [values[key] for key in keys] == [str(n).encode() for n in range(50)]
        assert values["user:none"] is None

    # -- ttl

    async def test_ttl_of_a_missing_key_is_none(self, state: State) -> None:
        assert await state.ttl("missing") is None

    async def test_ttl_of_a_key_without_expiry_is_infinite(self, state: State) -> None:
        await state.set("k", b"v")
        assert await state.ttl("k") == math.inf

    async def test_ttl_counts_down_to_the_expiry(self, state: State) -> None:
        await state.set("k", b"v", ttl=30)
        remaining = await state.ttl("k")
        assert remaining is not None and 25 < remaining <= 30

    async def test_ttl_of_an_expired_key_is_none(self, state: State) -> None:
        await state.set("k", b"v", ttl=0.1)
        await asyncio.sleep(0.25)
        assert await state.ttl("k") is None

    async def test_ttl_of_a_counter_is_the_one_its_first_increment_set(self, state: State) -> None:
        await state.incr("n", ttl=30)
        await state.incr("n", ttl=1000)
        remaining = await state.ttl("n")
        assert remaining is not None and remaining <= 30

    # -- compare_and_set

    async def test_compare_and_set_on_a_missing_key_expecting_none_creates_it(self, state: State) -> None:
        assert await state.compare_and_set("k", None, b"first") is True
        assert await state.get("k") == b"first"
        assert await state.compare_and_set("k", None, b"second") is False
        assert await state.get("k") == b"first"

    async def test_compare_and_set_on_a_missing_key_expecting_a_value_fails(self, state: State) -> None:
        assert await state.compare_and_set("k", b"old", b"new") is False
        assert await state.get("k") is None

    async def test_compare_and_set_swaps_only_the_expected_value(self, state: State) -> None:
        await state.set("k", b"one")
        assert await state.compare_and_set("k", b"two", b"three") is False
        assert await state.get("k") == b"one"
        assert await state.compare_and_set("k", b"one", b"two") is True
        assert await state.get("k") == b"two"

    async def test_compare_and_set_replaces_the_ttl_like_set(self, state: State) -> None:
        await state.set("k", b"one", ttl=30)
        assert await state.compare_and_set("k", b"one", b"two") is True
        assert await state.ttl("k") == math.inf
        assert await state.compare_and_set("k", b"two", b"three", ttl=0.1) is True
        await asyncio.sleep(0.25)
        assert await state.get("k") is None

    async def test_compare_and_set_with_a_ttl_on_a_missing_key(self, state: State) -> None:
        assert await state.compare_and_set("lock", None, b"me", ttl=0.1) is True
        await asyncio.sleep(0.25)
        assert await state.compare_and_set("lock", None, b"you", ttl=10) is True  # the first one expired
        assert await state.get("lock") == b"you"

    async def test_compare_and_set_treats_an_expired_value_as_absent(self, state: State) -> None:
        await state.set("k", b"old", ttl=0.1)
        await asyncio.sleep(0.25)
        assert await state.compare_and_set("k", b"old", b"new") is False
        assert await state.compare_and_set("k", None, b"new") is True

    async def test_concurrent_compare_and_set_has_one_winner(self, state: State) -> None:
        await state.set("k", b"start")
        outcomes = await asyncio.gather(*(state.compare_and_set("k", b"start", f"{n}".encode()) for n in range(20)))
        assert outcomes.count(True) == 1
        assert await state.get("k") == str(outcomes.index(True)).encode()

    async def test_concurrent_create_once_has_one_winner(self, state: State) -> None:
        outcomes = await asyncio.gather(*(state.compare_and_set("k", None, f"{n}".encode()) for n in range(20)))
        assert outcomes.count(True) == 1
        assert await state.get("k") == str(outcomes.index(True)).encode()

    async def test_compare_and_set_loops_lose_no_update(self, state: State) -> None:
        # Read-modify-write by compare-and-set from many tasks at once: every update lands exactly once.
        async def add_one() -> None:
            while True:
                current = await state.get("total")
                if await state.compare_and_set("total", current, str(int(current or b"0") + 1).encode()):
                    return

        await asyncio.gather(*(add_one() for _ in range(25)))
        assert await state.get("total") == b"25"

    async def test_compare_and_set_with_a_value_on_a_list_is_refused(self, state: State) -> None:
        await state.list_push("recent", b"x", max_length=3)
        with pytest.raises(Exception):  # noqa: B017 - each backend names its own error
            await state.compare_and_set("recent", b"x", b"y")
        assert await state.compare_and_set("recent", None, b"y") is False  # present, so not created
        assert await state.list_range("recent") == [b"x"]

    # -- capped lists

    async def test_list_push_puts_the_newest_first(self, state: State) -> None:
        assert await state.list_push("recent", b"a", max_length=5) == 1
        assert await state.list_push("recent", b"b", max_length=5) == 2
        assert await state.list_range("recent") == [b"b", b"a"]

    async def test_list_push_trims_to_the_newest_max_length(self, state: State) -> None:
        for n in range(10):
            length = await state.list_push("recent", str(n).encode(), max_length=3)
            assert length == min(n + 1, 3)
        assert await state.list_range("recent") == [b"9", b"8", b"7"]

    async def test_concurrent_pushes_never_exceed_the_cap(self, state: State) -> None:
        lengths = await asyncio.gather(*(state.list_push("recent", str(n).encode(), max_length=4) for n in range(40)))
        assert max(lengths) == 4
        assert len(await state.list_range("recent")) == 4

    async def test_list_push_refuses_a_max_length_below_one(self, state: State) -> None:
        with pytest.raises(ValueError):
            await state.list_push("recent", b"a", max_length=0)

    async def test_list_range_of_a_missing_list_is_empty(self, state: State) -> None:
        assert await state.list_range("missing") == []

    async def test_list_range_reads_slices_as_lrange(self, state: State) -> None:
        for item in (b"e", b"d", b"c", b"b", b"a"):
            await state.list_push("letters", item, max_length=10)
        assert await state.list_range("letters", 0, 1) == [b"a", b"b"]
        assert await state.list_range("letters", 1, 3) == [b"b", b"c", b"d"]
        assert await state.list_range("letters", -2, -1) == [b"d", b"e"]
        assert await state.list_range("letters", 3, 100) == [b"d", b"e"]
        assert await state.list_range("letters", -100, 0) == [b"a"]
        assert await state.list_range("letters", 4, 2) == []
        assert await state.list_range("letters", 7, 9) == []
        assert await state.list_range("letters", 0, -6) == []

    async def test_list_push_with_a_ttl_renews_the_list_expiry(self, state: State) -> None:
        await state.list_push("recent", b"a", max_length=3, ttl=0.3)
        await asyncio.sleep(0.2)
        await state.list_push("recent", b"b", max_length=3, ttl=0.3)  # the whole list lives on
        await asyncio.sleep(0.2)
        assert await state.list_range("recent") == [b"b", b"a"]
        await asyncio.sleep(0.3)
        assert await state.list_range("recent") == []
        assert await state.ttl("recent") is None

    async def test_list_push_without_a_ttl_keeps_the_list_expiry(self, state: State) -> None:
        await state.list_push("recent", b"a", max_length=3, ttl=30)
        await state.list_push("recent", b"b", max_length=3)
        remaining = await state.ttl("recent")
        assert remaining is not None and 25 < remaining <= 30
        await state.list_push("forever", b"a", max_length=3)
        assert await state.ttl("forever") == math.inf

    async def test_delete_removes_a_list(self, state: State) -> None:
        await state.list_push("recent", b"a", max_length=3)
        assert await state.delete("recent") is True
        assert await state.list_range("recent") == []

    async def test_a_value_is_not_a_list_and_a_list_not_a_value(self, state: State) -> None:
        await state.set("v", b"1")
        await state.list_push("l", b"x", max_length=3)
        with pytest.raises(Exception):  # noqa: B017 - each backend names its own error
            await state.list_push("v", b"x", max_length=3)
        with pytest.raises(Exception):  # noqa: B017
            await state.list_range("v")
        with pytest.raises(Exception):  # noqa: B017
            await state.get("l")
        assert await state.get("v") == b"1"
        assert await state.list_range("l") == [b"x"]
