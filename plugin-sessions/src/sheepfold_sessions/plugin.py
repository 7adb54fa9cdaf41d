"""The plugin's hooks: ``[sessions]`` settings, the session store on every request, identity, outage replay."""

from __future__ import annotations

import functools
from collections.abc import Awaitable

from blacksheep import Application, Request
from dynaconf import Validator

from sheepfold import Identity, Platform, hookimpl
from sheepfold.sessions.port import SessionRecords
from sheepfold_sessions.directory import UserSessions
from sheepfold_sessions.identity import identity_of_handshake, identity_of_session
from sheepfold_sessions.near_cache import NearCachedSessionRecords, NearSessionCache
from sheepfold_sessions.read_through import read_through
from sheepfold_sessions.recovery import replay_outage
from sheepfold_sessions.settings import SessionSettings, settings_validators
from sheepfold_sessions.store import PlatformSessionStore


@hookimpl
def sheepfold_settings_validators() -> list[Validator]:
    return settings_validators()


@hookimpl
def sheepfold_configure_app(app: Application, platform: Platform) -> None:
    settings = SessionSettings.from_settings(platform.settings)
    switch = platform.capabilities["sessions"]  # every platform binds it (a kernel port)
    records: SessionRecords = switch.port
    adopted: set[str] | None = None
    if switch.has_fallback and settings.near_cache_entries:
        near = NearCachedSessionRecords(
            switch, NearSessionCache(settings.near_cache_entries, settings.near_cache_max_age)
        )
        records, adopted = near, near.adopted
    store = PlatformSessionStore(records, settings)
    app.use_sessions(store)
    platform.provide(PlatformSessionStore, store)
    platform.provide(UserSessions, UserSessions(records))
    if switch.has_fallback:
        switch.add_recovery_step("replay-sessions", functools.partial(replay_outage, adopted=adopted))
        switch.serve_while_recovering(read_through)


@hookimpl
def sheepfold_identity_from_request(
    request: Request, platform: Platform
) -> Identity | Awaitable[Identity | None] | None:
    # Synchronous when the session middleware already loaded the session (every HTTP request);
    # a WebSocket handshake bypasses middlewares, so its session is loaded here.
    store = platform.find(PlatformSessionStore)
    if store is None:
        return None
    try:
        session = request.session
    except TypeError:
        return identity_of_handshake(store, request)
    return identity_of_session(session, store.settings.roles_key)
