"""The session records port's contract, for every adapter of it (the kernel's, a plugin's, a third party's)."""

from __future__ import annotations

import asyncio
import time

from sheepfold.sessions import SessionRecord, SessionRecords


def record(
    data: bytes = b"{}", user: str | None = None, *, idle: float = 60.0, absolute: float = 600.0
) -> SessionRecord:
    now = time.time()
    return SessionRecord(data=data, user=user, idle_timeout=idle, absolute_deadline=now + absolute, created_at=now)


async def touched(records: SessionRecords, session_id: str) -> SessionRecord:
    """``read_and_touch(session_id)``, which must find the record."""
    found = await records.read_and_touch(session_id)
    assert found is not None, f"session {session_id!r} not found"
    return found


class SessionRecordsContract:
    """The ``SessionRecords`` port's contract: subclass it, with a ``session_records`` fixture yielding a fresh adapter.

    The fixture yields the adapter started and empty, and closes it afterwards.
    """

    async def test_a_created_record_reads_back_whole(self, session_records: SessionRecords) -> None:
        stored = record(b'{"a":1}', "alice")
        assert await session_records.create("s1", stored) is True
        found = await session_records.read_and_touch("s1")
        assert found is not None
        assert (found.data, found.user, found.idle_timeout) == (b'{"a":1}', "alice", 60.0)
        assert abs(found.absolute_deadline - stored.absolute_deadline) < 0.01
        assert abs(found.created_at - stored.created_at) < 0.01

    async def test_an_unknown_id_reads_none(self, session_records: SessionRecords) -> None:
        assert await session_records.read_and_touch("never-issued") is None

    async def test_create_refuses_a_taken_id_and_keeps_the_first_record(self, session_records: SessionRecords) -> None:
        await session_records.create("s1", record(b"first"))
        assert await session_records.create("s1", record(b"second")) is False
        assert (await touched(session_records, "s1")).data == b"first"

    async def test_a_record_expires_after_its_idle_timeout_without_reads(self, session_records: SessionRecords) -> None:
        await session_records.create("s1", record(idle=0.2))
        await asyncio.sleep(0.35)
        assert await session_records.read_and_touch("s1") is None

    async def test_reads_refresh_the_idle_expiry(self, session_records: SessionRecords) -> None:
        await session_records.create("s1", record(idle=0.4))
        for _ in range(4):
            await asyncio.sleep(0.2)
            assert await session_records.read_and_touch("s1") is not None

    async def test_reads_never_extend_past_the_absolute_deadline(self, session_records: SessionRecords) -> None:
        await session_records.create("s1", record(idle=0.4, absolute=0.5))
        await asyncio.sleep(0.25)
        assert await session_records.read_and_touch("s1") is not None
        await asyncio.sleep(0.35)  # within the refreshed idle time, past the deadline
        assert await session_records.read_and_touch("s1") is None

    async def test_write_if_changed_replaces_the_data(self, session_records: SessionRecords) -> None:
        await session_records.create("s1", record(b"old", "alice"))
        assert await session_records.write_if_changed("s1", b"new") is True
        assert await session_records.write_if_changed("s1", b"new") is True
        found = await touched(session_records, "s1")
        assert (found.data, found.user) == (b"new", "alice")

    async def test_write_never_resurrects_a_deleted_record(self, session_records: SessionRecords) -> None:
        await session_records.create("s1", record())
        assert await session_records.delete("s1") is True
        assert await session_records.write_if_changed("s1", b"late") is False
        assert await session_records.read_and_touch("s1") is None
        assert await session_records.delete("s1") is False

    async def test_regenerate_moves_the_session_and_drops_the_old_id(self, session_records: SessionRecords) -> None:
        await session_records.create("old", record(b"anon"))
        assert await session_records.regenerate("old", "new", record(b"alice's", "alice")) is True
        assert await session_records.read_and_touch("old") is None
        assert (await touched(session_records, "new")).data == b"alice's"
        assert list(await session_records.user_sessions("alice")) == ["new"]

    async def test_regenerate_of_a_gone_session_changes_nothing(self, session_records: SessionRecords) -> None:
        assert await session_records.regenerate("gone", "new", record(user="alice")) is False
        assert await session_records.read_and_touch("new") is None
        assert await session_records.user_sessions("alice") == {}

    async def test_regenerate_refuses_a_taken_new_id(self, session_records: SessionRecords) -> None:
        await session_records.create("a", record(b"a"))
        await session_records.create("b", record(b"b"))
        assert await session_records.regenerate("a", "b", record(b"x")) is False
        assert (await touched(session_records, "a")).data == b"a"
        assert (await touched(session_records, "b")).data == b"b"

    async def test_regenerate_moves_the_index_entry_between_users(self, session_records: SessionRecords) -> None:
        await session_records.create("s1", record(user="alice"))
        await session_records.regenerate("s1", "s2", record(user="bob"))
        assert await session_records.user_sessions("alice") == {}
        assert list(await session_records.user_sessions("bob")) == ["s2"]

    async def test_the_user_index_lists_only_live_sessions_of_that_user(self, session_records: SessionRecords) -> None:
        await session_records.create("a1", record(user="alice"))
        await session_records.create("a2", record(user="alice", idle=0.1))
        await session_records.create("a3", record(user="alice"))
        await session_records.create("b1", record(user="bob"))
        await session_records.create("anon", record())
        await session_records.delete("a3")
        await asyncio.sleep(0.25)
        assert sorted(await session_records.user_sessions("alice")) == ["a1"]
        assert sorted(await session_records.user_sessions("bob")) == ["b1"]

    async def test_end_user_session_ends_only_a_session_of_that_user(self, session_records: SessionRecords) -> None:
        await session_records.create("a1", record(user="alice"))
        await session_records.create("b1", record(user="bob"))
        assert await session_records.end_user_session("alice", "b1") is False
        assert await session_records.end_user_session("alice", "a1") is True
        assert await session_records.read_and_touch("a1") is None
        assert await session_records.read_and_touch("b1") is not None

    async def test_end_user_sessions_logs_a_user_out_everywhere(self, session_records: SessionRecords) -> None:
        for session_id in ("a1", "a2", "a3"):
            await session_records.create(session_id, record(user="alice"))
        await session_records.create("b1", record(user="bob"))
        assert await session_records.end_user_sessions("alice") == 3
        assert await session_records.user_sessions("alice") == {}
        assert await session_records.read_and_touch("a2") is None
        assert await session_records.read_and_touch("b1") is not None
        assert await session_records.end_user_sessions("alice") == 0

    async def test_restore_replaces_a_record_and_reindexes_it(self, session_records: SessionRecords) -> None:
        await session_records.create("s1", record(b"old", "alice"))
        await session_records.restore("s1", record(b"new", "bob"))
        assert (await touched(session_records, "s1")).data == b"new"
        assert await session_records.user_sessions("alice") == {}
        assert list(await session_records.user_sessions("bob")) == ["s1"]
        await session_records.restore("s2", record(b"fresh"))
        assert (await touched(session_records, "s2")).data == b"fresh"

    async def test_users_and_data_may_hold_any_characters(self, session_records: SessionRecords) -> None:
        user = "ålice {x}:y"
        data = bytes(range(256))
        await session_records.create("s1", record(data, user))
        assert (await touched(session_records, "s1")).data == data
        assert list(await session_records.user_sessions(user)) == ["s1"]

    async def test_ping_succeeds_when_the_backend_serves(self, session_records: SessionRecords) -> None:
        await session_records.ping()
