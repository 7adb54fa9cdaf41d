"""The plugin's hooks: ``[sessions]`` settings, the session store on every request, outage replay."""

from __future__ import annotations

from blacksheep import Application, Request
from dynaconf import Validator

from sheepfold.hookspecs import hookimpl
from sheepfold.platform import Platform
from sheepfold.sessions.port import SessionRecords
from sheepfold_sessions.directory import UserSessions
from sheepfold_sessions.read_through import read_through
from sheepfold_sessions.recovery import replay_outage
from sheepfold_sessions.settings import SessionSettings, settings_validators
from sheepfold_sessions.store import PlatformSession, PlatformSessionStore


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return settings_validators()


@hookimpl
def sheepfold_configure_app(app: Application, platform: Platform) -> None:
    settings = SessionSettings.from_settings(platform.settings)
    switch = platform.capabilities["sessions"]  # every platform binds it (a kernel port)
    records: SessionRecords = switch.port
    store = PlatformSessionStore(records, settings)
    app.use_sessions(store)
    platform.provide(PlatformSessionStore, store)
    platform.provide(UserSessions, UserSessions(records))
    if switch.has_fallback:
        switch.add_recovery_step("replay-sessions", replay_outage)
        switch.serve_while_recovering(read_through)


@hookimpl
def sheepfold_request_user(request: Request) -> str | None:
    # The user of a session this server issued and still holds; never a value the client chose.
    session = request.session
    if isinstance(session, PlatformSession) and session.record is not None:
        return session.record.user
    return None
