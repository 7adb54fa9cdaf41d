"""Session operations that touch a session and a user's index are one script per key: none may lose a session.

On a Cluster a session and its user's index live in different slots, so
creating, regenerating, restoring and deleting take several steps. Whatever
step fails, every session still alive is in its user's index (so "log out
everywhere" finds it), and a half-done call changes nothing a caller sees.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from sheepfold import BackendUnavailable
from sheepfold.sessions import SessionRecord
from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis.sessions import RedisSessionRecords
from tests.support.redis_adapters import fresh_prefix, remove_namespace

pytestmark = pytest.mark.redis


def record(user: str | None = None) -> SessionRecord:
    now = time.time()
    return SessionRecord(data=b"{}", user=user, idle_timeout=60.0, absolute_deadline=now + 600, created_at=now)


class FailingStep:
    """Counts the adapter's Redis calls (scripts and commands) and fails the ``fail_at``-th one (0-based)."""

    def __init__(self, connection: RedisConnection, fail_at: int | None = None) -> None:
        self.calls = 0
        self.fail_at = fail_at
        run, execute = connection.run_script, connection.execute
        in_script = False

        async def run_script(script: Any, keys: list[Any], args: list[Any]) -> Any:
            nonlocal in_script
            self._step()
            in_script = True  # run_script sends its EVALSHA through execute: one step, not two
            try:
                return await run(script, keys, args)
            finally:
                in_script = False

        async def execute_command(*args: Any) -> Any:
            if not in_script:
                self._step()
            return await execute(*args)

        # The adapter takes both at construction.
        connection.run_script = run_script  # type: ignore[method-assign]
        connection.execute = execute_command

    def _step(self) -> None:
        number, self.calls = self.calls, self.calls + 1
        if number == self.fail_at:
            raise RedisConnectionError("Connection to Redis lost.")


@pytest.fixture
async def connection(redis_url) -> AsyncIterator[RedisConnection]:
    conn = RedisConnection(RedisSettings(url=redis_url, prefix=fresh_prefix(), command_timeout=2.0))
    yield conn
    await remove_namespace(conn)
    await conn.close()


async def unindexed_sessions(connection: RedisConnection, records: RedisSessionRecords) -> list[str]:
    """Sessions alive with a user whose index does not list them."""
    missing = []
    async for name in connection.client.scan_iter(match=connection.namespace + "{*}:session"):
        user = await connection.client.hget(name, "u")
        session_id = name.decode().partition("{")[2].partition("}")[0]
        if user and await connection.client.zscore(records.index_key(user.decode()), session_id) is None:
            missing.append(session_id)
    return missing


Operation = Callable[[RedisSessionRecords], Awaitable[object]]
OPERATIONS: dict[str, Operation] = {
    "create signed in": lambda r: r.create("new", record("alice")),
    "sign in (regenerate an anonymous session)": lambda r: r.regenerate("anon", "new", record("bob")),
    "regenerate to another user": lambda r: r.regenerate("s1", "s2", record("carol")),
    "restore under another user": lambda r: r.restore("s1", record("bob")),
    "delete": lambda r: r.delete("s1"),
    "end one session of a user": lambda r: r.end_user_session("alice", "s1"),
    "log a user out everywhere": lambda r: r.end_user_sessions("alice"),
}


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_whichever_step_fails_every_live_session_stays_in_its_users_index(connection, operation):
    steps = FailingStep(connection)
    records = RedisSessionRecords(connection)
    await records.create("anon", record())
    await records.create("s1", record("alice"))
    await records.create("s3", record("alice"))
    setup = steps.calls
    await OPERATIONS[operation](records)
    total = steps.calls - setup
    await remove_namespace(connection)
    for fail_at in range(total):
        steps.calls, steps.fail_at = 0, None
        await records.create("anon", record())
        await records.create("s1", record("alice"))
        await records.create("s3", record("alice"))
        steps.calls, steps.fail_at = 0, fail_at
        with pytest.raises(BackendUnavailable):
            await OPERATIONS[operation](records)
        steps.fail_at = None
        assert await unindexed_sessions(connection, records) == [], f"step {fail_at} of {total} failed"
        await remove_namespace(connection)


async def test_a_session_whose_create_failed_after_its_index_entry_is_neither_listed_nor_ended(connection):
    steps = FailingStep(connection, fail_at=1)  # step 0 adds the index entry, step 1 stores the session
    records = RedisSessionRecords(connection)
    with pytest.raises(BackendUnavailable):
        await records.create("s1", record("alice"))
    steps.fail_at = None
    assert await connection.client.zcard(records.index_key("alice")) == 1
    assert await records.user_sessions("alice") == {}
    assert await records.end_user_sessions("alice") == 0


async def test_regenerating_a_session_signed_out_meanwhile_takes_the_new_one_back(connection):
    records = RedisSessionRecords(connection)
    await records.create("old", record("alice"))
    delete = records._delete_record

    async def signed_out_first(session_id: str, owner: str = "") -> bool:
        if session_id == "old":
            await delete("old")  # another instance signs the old session out between the steps
        return await delete(session_id, owner)

    records._delete_record = signed_out_first  # type: ignore[method-assign]
    assert await records.regenerate("old", "new", record("alice")) is False
    assert await records.read_and_touch("new") is None
    assert await records.user_sessions("alice") == {}
    assert await connection.client.zcard(records.index_key("alice")) == 0
