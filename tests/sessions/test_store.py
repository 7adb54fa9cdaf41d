"""plugin-sessions in one process: cookies, ids, regeneration, dirty tracking, timeouts, the per-user index."""

from __future__ import annotations

import asyncio

import pytest
from blacksheep import Request

from sheepfold import Identity
from sheepfold.sessions import MemorySessionRecords, SessionRecords
from sheepfold_sessions import CookieSigner, PlatformSessionStore
from tests.sessions.app_for_tests import SECRET, Browser, session_app, set_cookies


@pytest.fixture
async def app():
    app = session_app()
    await app.start()
    yield app
    await app.stop()


class CountingRecords:
    """Wraps the app's memory records and counts calls by method name."""

    def __init__(self, records: MemorySessionRecords) -> None:
        self.records = records
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        method = getattr(self.records, name)

        async def counted(*args, **kwargs):
            self.calls.append(name)
            return await method(*args, **kwargs)

        return counted


def count_store_calls(app) -> CountingRecords:
    switch = app.platform.require(SessionRecords)
    counting = CountingRecords(switch.backend)
    switch.set_adapters(counting, counting)
    return counting


async def test_a_request_that_never_touches_the_session_gets_no_cookie_and_no_store_call(app):
    calls = count_store_calls(app)
    response = await Browser(app).request("GET", "/read")
    assert response.status == 200
    assert set_cookies(response) == {}
    assert calls.calls == []


async def test_the_cookie_is_host_prefixed_httponly_secure_and_lax(app):
    response = await Browser(app).request("POST", "/set/cart", ["apple"])
    header = response.headers.get_first(b"set-cookie").decode()
    assert header.startswith("__Host-session=")
    attributes = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= attributes
    assert not any(part.startswith("domain") for part in attributes)


async def test_cookie_secure_off_drops_the_prefix_and_the_secure_flag():
    app = session_app({"cookie_secure": False})
    await app.start()
    try:
        response = await Browser(app, "session").request("POST", "/set/cart", ["apple"])
        header = response.headers.get_first(b"set-cookie").decode().lower()
        assert header.startswith("session=") and "secure" not in header and "httponly" in header
    finally:
        await app.stop()


async def test_ids_are_256_random_bits_and_never_repeat(app):
    ids = set()
    for _ in range(20):
        browser = Browser(app)
        await browser.request("POST", "/set/n", 1)
        session_id, _, signature = browser.cookie.partition(".")
        assert len(session_id) == 43 and len(signature) == 43
        ids.add(session_id)
    assert len(ids) == 20


async def test_values_persist_between_requests(app):
    browser = Browser(app)
    await browser.request("POST", "/set/cart", ["apple", "pear"])
    assert await (await browser.request("GET", "/read")).json() == {"cart": ["apple", "pear"]}


async def test_login_regenerates_the_id_and_the_old_id_is_dead(app):
    browser = Browser(app)
    await browser.request("POST", "/set/cart", ["apple"])
    anonymous_cookie = browser.cookie
    await browser.request("POST", "/login/alice")
    assert browser.cookie != anonymous_cookie
    assert await (await browser.request("GET", "/read")).json() == {"cart": ["apple"], "user": "alice"}
    browser.cookie = anonymous_cookie
    assert await (await browser.request("GET", "/read")).json() == {}


async def test_a_privilege_change_regenerates_the_id(app):
    browser = Browser(app)
    await browser.request("POST", "/login/alice")
    before = browser.cookie
    await browser.request("POST", "/set/roles", ["admin"])
    assert browser.cookie != before
    assert await (await browser.request("GET", "/read")).json() == {"roles": ["admin"], "user": "alice"}


async def test_logout_ends_the_session_and_removes_the_cookie(app):
    browser = Browser(app)
    await browser.request("POST", "/login/alice")
    cookie = browser.cookie
    response = await browser.request("POST", "/logout")
    assert set_cookies(response)["__Host-session"]["__Host-session"]["max-age"] == "0"
    browser.cookie = cookie
    assert await (await browser.request("GET", "/read")).json() == {}


async def test_an_unchanged_session_is_touched_not_written(app):
    browser = Browser(app)
    await browser.request("POST", "/set/cart", ["apple"])
    calls = count_store_calls(app)
    response = await browser.request("POST", "/set/cart", ["apple"])  # set, but to the same value
    assert set_cookies(response) == {}
    assert calls.calls == ["read_and_touch"]
    await browser.request("POST", "/set/cart", ["pear"])
    assert calls.calls == ["read_and_touch", "read_and_touch", "write_if_changed"]


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda cookie: cookie[:-1] + ("A" if cookie[-1] != "A" else "B"), id="tampered"),
        pytest.param(lambda cookie: cookie[:50], id="truncated"),
        pytest.param(lambda cookie: cookie * 100, id="oversized"),
        pytest.param(
            lambda cookie: CookieSigner("another-server-secret-of-32-characters!").sign(cookie[:43]), id="foreign"
        ),
        pytest.param(lambda cookie: "A" * 43, id="client-chosen"),
        pytest.param(lambda cookie: "%00\u00e9;=,", id="garbage"),
        # compare_digest raises TypeError on text that is not ASCII: this was a 500.
        pytest.param(lambda cookie: cookie[:44] + "\u00e9" * 43, id="signature-not-ascii"),
    ],
)
async def test_a_cookie_the_server_did_not_issue_gets_a_fresh_session_and_a_2xx(app, mangle):
    victim = Browser(app)
    await victim.request("POST", "/login/alice")
    attacker = Browser(app)
    attacker.cookie = mangle(victim.cookie)
    response = await attacker.request("GET", "/read")
    assert response.status == 200
    assert await response.json() == {}
    response = await attacker.request("POST", "/set/cart", ["x"])
    assert response.status == 200
    assert attacker.cookie.partition(".")[0] != victim.cookie.partition(".")[0]


async def test_a_cookie_header_that_is_not_utf8_still_reads_the_session_cookie_in_it(app):
    # BlackSheep's request.cookies raises UnicodeDecodeError on such a header: this was a 500 on every route.
    browser = Browser(app)
    await browser.request("POST", "/set/cart", ["apple"])
    for header in (f"junk=\xff; __Host-session={browser.cookie}", "__Host-session=\xfe\xff"):
        response = await browser.client.get("/read", headers=[(b"cookie", header.encode("latin-1"))])
        assert response.status == 200
        assert await response.json() == ({"cart": ["apple"]} if "\xff;" in header else {})


async def test_older_secrets_verify_cookies_during_a_rotation():
    old_app = session_app({"secret": "the-old-secret-of-more-than-32-characters"})
    await old_app.start()
    browser = Browser(old_app)
    await browser.request("POST", "/login/alice")
    records = old_app.platform.require(SessionRecords).backend
    rotated = session_app({"previous_secrets": ["the-old-secret-of-more-than-32-characters"]})
    not_rotated = session_app()
    for app in (rotated, not_rotated):
        await app.start()
        app.platform.require(SessionRecords).backend.store = records.store  # the same records, as Redis would be
    try:
        for app, expected in ((rotated, {"user": "alice"}), (not_rotated, {})):
            other = Browser(app)
            other.cookie = browser.cookie
            assert await (await other.request("GET", "/read")).json() == expected
        other = Browser(rotated)
        other.cookie = browser.cookie
        response = await other.request("POST", "/set/cart", [1])  # a save signs the cookie anew
        assert other.cookie != browser.cookie and other.cookie.partition(".")[0] == browser.cookie.partition(".")[0]
        assert CookieSigner(SECRET).unsign(other.cookie) is not None
        assert response.status == 200
    finally:
        for app in (old_app, rotated, not_rotated):
            await app.stop()


async def test_the_idle_timeout_ends_a_session_nobody_uses():
    app = session_app({"idle_timeout": 0.3, "absolute_timeout": 60})
    await app.start()
    try:
        browser = Browser(app)
        await browser.request("POST", "/login/alice")
        for _ in range(3):
            await asyncio.sleep(0.15)
            assert await (await browser.request("GET", "/read")).json() == {"user": "alice"}
        await asyncio.sleep(0.45)
        assert await (await browser.request("GET", "/read")).json() == {}
    finally:
        await app.stop()


async def test_the_absolute_timeout_ends_a_session_in_use():
    app = session_app({"idle_timeout": 0.3, "absolute_timeout": 0.5})
    await app.start()
    try:
        browser = Browser(app)
        await browser.request("POST", "/login/alice")
        for _ in range(6):
            await asyncio.sleep(0.15)
            if await (await browser.request("GET", "/read")).json() == {}:
                break
        else:
            pytest.fail("the session outlived its absolute timeout")
    finally:
        await app.stop()


async def test_a_user_lists_their_sessions_ends_one_and_ends_all(app):
    laptop, phone, tablet, bob = Browser(app), Browser(app), Browser(app), Browser(app)
    for browser in (laptop, phone, tablet):
        await browser.request("POST", "/login/alice")
    await bob.request("POST", "/login/bob")
    listed = await (await laptop.request("GET", "/sessions")).json()
    assert len(listed) == 3 and sum(entry["current"] for entry in listed) == 1
    assert not any(laptop.cookie.partition(".")[0] in str(entry) for entry in listed)  # ids are never shown
    phone_handle = next(
        entry["handle"] for entry in await (await phone.request("GET", "/sessions")).json() if entry["current"]
    )
    assert await (await laptop.request("DELETE", f"/sessions/{phone_handle}")).json() == {"ended": True}
    assert await (await phone.request("GET", "/read")).json() == {}
    assert await (await bob.request("DELETE", f"/sessions/{phone_handle}")).json() == {"ended": False}
    assert await (await laptop.request("DELETE", "/sessions")).json() == {"ended": 2}
    assert await (await tablet.request("GET", "/read")).json() == {}
    assert await (await bob.request("GET", "/read")).json() == {"user": "bob"}


async def test_hook_identity_from_request_names_the_session_user_and_roles(app):
    browser = Browser(app)
    await browser.request("POST", "/login/alice")
    await browser.request("POST", "/set/roles", ["admin", "editor"])
    platform = app.platform
    cookie = [(b"cookie", f"__Host-session={browser.cookie}".encode())]
    signed_in = Request("GET", b"/read", cookie)
    signed_in.session = await platform.require(PlatformSessionStore).load(signed_in)
    assert await platform.identify(signed_in) == Identity("alice", {"admin", "editor"})
    # A request the session middleware did not see (a WebSocket handshake): the hook loads the session.
    handshake = Request("GET", b"/ws", cookie)
    assert await platform.identify(handshake) == Identity("alice", {"admin", "editor"})
    anonymous = Request("GET", b"/read", [])
    anonymous.session = await platform.require(PlatformSessionStore).load(anonymous)
    assert (await platform.identify(anonymous)).anonymous
