"""After a Redis outage: write the sessions created, changed or ended meanwhile back to Redis."""

from __future__ import annotations

import logging

from sheepfold.fallback import BACKEND_FAILURES, FallbackSwitch

logger = logging.getLogger("sheepfold.sessions")


async def replay_outage(switch: FallbackSwitch, on_backend: bool) -> None:
    """A fallback-switch listener: when the backend answers again, replay the fallback's changes onto it.

    Order: users logged out everywhere, then ended sessions, then live
    records (restored as they are, idle and absolute deadlines kept). What
    was replayed is forgotten by the fallback; if the backend fails again
    midway, the rest stays in memory and the next recovery replays it.
    Sessions created during the outage are unknown to Redis for the moment
    between the switch back and the end of this replay.
    """
    fallback = switch.fallback
    if not on_backend or not hasattr(fallback, "pending"):
        return
    records, deleted, ended_users = fallback.pending()
    backend = switch.backend
    done_users: list[str] = []
    done_deleted: list[str] = []
    done_records: list[str] = []
    try:
        for user in ended_users:
            await backend.end_user_sessions(user)
            done_users.append(user)
        for session_id in deleted:
            await backend.delete(session_id)
            done_deleted.append(session_id)
        for session_id, record in records.items():
            await backend.restore(session_id, record)
            done_records.append(session_id)
    except BACKEND_FAILURES as error:
        logger.warning("sessions: replay to %r stopped (%s); the rest stays in memory", switch.backend_name, error)
    finally:
        fallback.forget(done_records, done_deleted, done_users)
    logger.warning(
        "sessions: replayed %d session(s), %d deletion(s), %d user log-out(s) onto %r",
        len(done_records),
        len(done_deleted),
        len(done_users),
        switch.backend_name,
    )
