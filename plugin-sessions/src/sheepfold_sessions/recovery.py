"""After a Redis outage: write the sessions created, changed or ended meanwhile back to Redis."""

from __future__ import annotations

import logging

from sheepfold import Recovery
from sheepfold.sessions import SessionJournal, SessionRecords

logger = logging.getLogger("sheepfold.sessions")


async def replay_outage(recovery: Recovery[SessionRecords], adopted: set[str] | None = None) -> None:
    """The sessions capability's recovery step: replay the fallback's journal onto the backend.

    Runs while the switch is *recovering*: every request is still served by
    the fallback (reading through to the backend, see
    :mod:`sheepfold_sessions.read_through`), whose journal notes each change. Rounds repeat until a
    round finds nothing left (a log-out or a change made while a round ran is
    replayed by the next); then the fallback is emptied and this returns, and
    traffic returns to the backend in the same event-loop turn, so no change
    made on the fallback is left behind and no replayed record can undo a
    later log-out. Order in a round: users logged out everywhere, ended
    sessions, then records (restored as they are, deadlines kept). A record
    whose id is in ``adopted`` (taken from the near cache during the outage, so
    Redis may have ended it meanwhile on another instance) is written with
    ``write_if_changed``, which never brings back a session Redis no longer
    has. A backend failure raises: what was not replayed stays journaled for
    the next recovery.
    """
    journal = recovery.fallback_as(SessionJournal)
    if journal is None:
        return
    backend = recovery.backend
    replayed = [0, 0, 0]
    while True:
        records, deleted, ended_users = journal.pending()
        if not (records or deleted or ended_users):
            journal.clear()
            if adopted is not None:
                adopted.clear()
            break
        for user in ended_users:
            await backend.end_user_sessions(user)
            journal.forget({}, [], [user])
            replayed[2] += 1
        for session_id in deleted:
            await backend.delete(session_id)
            journal.forget({}, [session_id], [])
            replayed[1] += 1
        for session_id, record in records.items():
            if adopted is not None and session_id in adopted:
                await backend.write_if_changed(session_id, record.data)
            else:
                await backend.restore(session_id, record)
            journal.forget({session_id: record}, [], [])
            replayed[0] += 1
    logger.warning(
        "sessions: replayed %d session(s), %d deletion(s), %d user log-out(s) onto %r",
        *replayed,
        recovery.backend_name,
    )
