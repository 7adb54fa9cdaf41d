"""BlackSheep's ``SessionStore`` on sheepfold's session-record port."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from blacksheep import Request, Response
from blacksheep.sessions.abc import Session, SessionStore

from sheepfold.http.request_fields import cookie
from sheepfold.sessions.port import SessionRecord, SessionRecords
from sheepfold_sessions.cookies import CookieSigner, new_session_id, session_cookie
from sheepfold_sessions.settings import SessionSettings

logger = logging.getLogger("sheepfold.sessions")


class PlatformSession(Session):
    """A BlackSheep ``Session`` that remembers what the store loaded, so a save knows what changed.

    ``id`` is None for a session the store has not issued yet. Handlers use
    it exactly as BlackSheep's ``Session`` (``request.session["user"] = ...``).
    """

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        session_id: str | None = None,
        record: SessionRecord | None = None,
        resign: bool = False,
        stale_id: str | None = None,
    ) -> None:
        super().__init__(values)
        self.id = session_id
        self.record = record
        #: The cookie was signed with a previous secret: sign it anew when the session is saved.
        self.resign = resign
        #: A validly signed id the store did not know (ended, expired, or held by a Redis that is down).
        self.stale_id = stale_id


def encode(values: Mapping[str, Any]) -> bytes:
    """Session values as canonical JSON, so equal values always encode to equal bytes."""
    return json.dumps(values, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


class PlatformSessionStore(SessionStore):
    """Sessions kept server-side on a :class:`~sheepfold.sessions.SessionRecords` port, the id in a signed cookie.

    - ``load``: no cookie, or one this server did not issue (bad signature,
      wrong shape, unknown or ended id), gives a fresh empty session without
      touching the store beyond one read; a known id is read and its idle
      expiry refreshed in one call (``read_and_touch``).
    - ``save`` (BlackSheep calls it only when the handler changed the session):
      a new session is created under a fresh id; a change of the user or of a
      privilege key regenerates the id (old id dropped in the same step); other
      changes are written only when the encoded values differ. A session left
      empty is deleted and its cookie removed.
    """

    def __init__(self, records: SessionRecords, settings: SessionSettings) -> None:
        self.records = records
        self.settings = settings
        self.signer = CookieSigner(settings.secret, settings.previous_secrets)
        self._cookie = settings.cookie
        self._identity_keys = (settings.user_key, settings.roles_key, *settings.privilege_keys)

    async def load(self, request: Request) -> Session:
        raw = cookie(request, self._cookie)
        if not raw:
            return PlatformSession()
        unsigned = self.signer.unsign(raw)
        if unsigned is None:
            return PlatformSession()
        session_id, current_secret = unsigned
        record = await self.records.read_and_touch(session_id)
        if record is None:
            return PlatformSession(stale_id=session_id)
        try:
            values = json.loads(record.data)
        except ValueError:
            logger.warning("session data is not JSON; starting a fresh session")
            return PlatformSession(stale_id=session_id)
        return PlatformSession(values, session_id=session_id, record=record, resign=not current_secret)

    async def save(self, request: Request, response: Response, session: Session) -> None:
        if not isinstance(session, PlatformSession):
            raise TypeError("PlatformSessionStore saves only the sessions it loaded")
        values = session.to_dict()
        if session.stale_id is not None:
            # A known-signed id we could not find may live in a Redis that is down; this request
            # changed who the client is, so that old session must not come back after recovery.
            await self.records.delete(session.stale_id)
        if session.id is None or session.record is None:
            if values:
                await self._issue(response, session, values, None)
            return
        if not values:
            await self.records.delete(session.id)
            self._remove_cookie(response)
            return
        if self._identity(values) != self._identity(json.loads(session.record.data)):
            await self._issue(response, session, values, session.record)
            return
        data = encode(values)
        if data != session.record.data and not await self.records.write_if_changed(session.id, data):
            self._remove_cookie(response)  # ended elsewhere meanwhile (logged out on another instance)
            return
        if session.resign:
            self._set_cookie(response, session.id)

    async def _issue(
        self, response: Response, session: PlatformSession, values: dict[str, Any], previous: SessionRecord | None
    ) -> None:
        """Store ``values`` under a fresh id (regenerating ``session`` when it had one) and send its cookie."""
        now = time.time()
        user = _user_of(values, self.settings.user_key)
        # A login starts the absolute timeout afresh; a privilege change or logout keeps it.
        fresh_start = previous is None or (user is not None and user != previous.user)
        kept = None if fresh_start else previous
        record = SessionRecord(
            data=encode(values),
            user=user,
            idle_timeout=self.settings.idle_timeout,
            absolute_deadline=now + self.settings.absolute_timeout if kept is None else kept.absolute_deadline,
            created_at=now if kept is None else kept.created_at,
        )
        new_id = new_session_id()
        if previous is None or session.id is None:
            stored = await self.records.create(new_id, record)
        else:
            stored = await self.records.regenerate(session.id, new_id, record)
            if not stored and previous.user is None:
                stored = await self.records.create(new_id, record)  # nothing to protect in an anonymous session
        if not stored:
            self._remove_cookie(response)
            return
        session.id, session.record, session.resign = new_id, record, False
        self._set_cookie(response, new_id)

    def _identity(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values.get(key) for key in self._identity_keys)

    def _set_cookie(self, response: Response, session_id: str) -> None:
        response.set_cookie(
            session_cookie(self._cookie, self.signer.sign(session_id), secure=self.settings.cookie_secure)
        )

    def _remove_cookie(self, response: Response) -> None:
        response.set_cookie(session_cookie(self._cookie, "", secure=self.settings.cookie_secure, max_age=0))


def _user_of(values: Mapping[str, Any], user_key: str) -> str | None:
    user = values.get(user_key)
    return None if user is None or user == "" else str(user)
