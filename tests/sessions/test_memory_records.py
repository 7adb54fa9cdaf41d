"""The memory session-record adapter stays bounded, and hands an outage's changes to the replay."""

from __future__ import annotations

import time

from sheepfold.sessions import MemorySessionRecords, SessionRecord


def record(user: str | None = None) -> SessionRecord:
    now = time.time()
    return SessionRecord(data=b"{}", user=user, idle_timeout=60, absolute_deadline=now + 600, created_at=now)


async def test_sessions_indexes_and_deletions_stay_within_max_entries():
    records = MemorySessionRecords(max_entries=10)
    for number in range(50):
        await records.create(f"s{number}", record(f"user{number % 5}"))
        await records.delete(f"gone{number}")
        await records.end_user_sessions(f"ended{number}")
    assert len(records.store) == 10
    assert len(records._owner) == 10
    assert sum(len(ids) for ids in records._user_ids.values()) == 10
    live, deleted, ended = records.pending()
    assert sorted(live) == sorted(f"s{number}" for number in range(40, 50))
    assert len(deleted) == 10 and len(ended) == 10


async def test_forget_drops_from_the_journal_what_a_replay_wrote_and_keeps_later_writes():
    records = MemorySessionRecords(max_entries=10)
    await records.create("kept", record("alice"))
    await records.create("replayed", record("alice"))
    await records.create("rewritten", record("alice"))
    await records.delete("ended-elsewhere")
    await records.end_user_sessions("bob")
    live, deleted, ended = records.pending()
    await records.write_if_changed("rewritten", b'{"cart": 1}')  # written while the replay ran
    records.forget({name: live[name] for name in ("replayed", "rewritten")}, deleted, ended)
    live, deleted, ended = records.pending()
    assert sorted(live) == ["kept", "rewritten"] and deleted == [] and ended == []
    assert sorted(await records.user_sessions("alice")) == ["kept", "replayed", "rewritten"]  # still served
    records.clear()
    assert records.pending() == ({}, [], []) and await records.user_sessions("alice") == {}


async def test_reads_are_not_journaled():
    records = MemorySessionRecords(max_entries=10)
    await records.create("s", record("alice"))
    records.forget(*records.pending())
    await records.read_and_touch("s")
    await records.write_if_changed("s", b"{}")  # unchanged data
    assert records.pending() == ({}, [], [])
