"""``/ws`` over a real socket: channels and who may join them, the protocol, origins, heartbeats, shutdown."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import websockets

from sheepfold_realtime import RealtimeHub
from tests.realtime.app_for_tests import ADMIN_TOKEN, admin_publish, login, realtime_settings, served
from tests.realtime.served import Client


async def test_a_socket_is_welcomed_and_receives_platform_events_in_sequence():
    async with served() as (address, app), Client.connect(address) as client:
        assert client.of("welcome")[0]["user"] is None
        await client.subscribe("platform")
        hub = RealtimeHub.of(app.platform)
        await hub.publish("platform", {"n": 1})
        await hub.publish("platform", {"n": 2})
        events = await client.wait_for("event", 2)
        assert [(e["channel"], e["seq"], e["data"]) for e in events] == [
            ("platform", 1, {"n": 1}),
            ("platform", 2, {"n": 2}),
        ]


async def test_an_anonymous_socket_asking_for_a_user_channel_is_refused_with_1008():
    async with served() as (address, _app), Client.connect(address) as client:
        await client.send(type="subscribe", channel="user:alice")
        assert await client.closed() == 1008
        assert client.of("error")[0]["code"] == "forbidden"


async def test_a_user_may_join_only_their_own_user_channel():
    async with served() as (address, app):
        cookie = await login(address, "alice")
        async with Client.connect(address, additional_headers={"Cookie": cookie}) as alice:
            assert alice.of("welcome")[0]["user"] == "alice"
            await alice.subscribe("user:alice")
            await RealtimeHub.of(app.platform).publish("user:alice", "for alice")
            assert (await alice.wait_for("event"))[0]["data"] == "for alice"
            await alice.send(type="subscribe", channel="user:bob")
            assert await alice.closed() == 1008


async def test_only_identities_allowed_realtime_admin_join_admin():
    async with served() as (address, _app):
        # admin: the kernel's default permission; support: the test plugin's permission hook.
        for user, roles in [("root", ["admin"]), ("sam", ["support"])]:
            cookie = await login(address, user, roles)
            async with Client.connect(address, additional_headers={"Cookie": cookie}) as allowed:
                await allowed.subscribe("admin")
        for user, roles in [("alice", []), ("ed", ["editor"])]:
            cookie = await login(address, user, roles)
            async with Client.connect(address, additional_headers={"Cookie": cookie}) as refused:
                await refused.send(type="subscribe", channel="admin")
                assert await refused.closed() == 1008
        async with Client.connect(address) as anonymous:
            await anonymous.send(type="subscribe", channel="admin")
            assert await anonymous.closed() == 1008


async def test_hook_realtime_channels():
    async with served() as (address, app):
        async with Client.connect(address) as anonymous:
            await anonymous.send(type="subscribe", channel="orders:42")
            assert await anonymous.closed() == 1008
        cookie = await login(address, "alice")
        async with Client.connect(address, additional_headers={"Cookie": cookie}) as alice:
            await alice.subscribe("orders:42")
            await RealtimeHub.of(app.platform).publish("orders:42", {"status": "shipped"})
            assert (await alice.wait_for("event"))[0]["data"] == {"status": "shipped"}


async def test_channels_without_a_rule_are_refused():
    async with served() as (address, _app), Client.connect(address) as client:
        await client.send(type="subscribe", channel="nobody-declared-this")
        assert await client.closed() == 1008


async def test_unsubscribe_stops_events():
    async with served() as (address, app), Client.connect(address) as client:
        hub = RealtimeHub.of(app.platform)
        await client.subscribe("platform")
        await hub.publish("platform", 1)
        await client.wait_for("event")
        await client.send(type="unsubscribe", channel="platform")
        await client.wait_for("unsubscribed")
        outcome = await hub.publish("platform", 2)
        await asyncio.sleep(0.1)
        assert outcome.local_sockets == 0
        assert [e["data"] for e in client.of("event")] == [1]


async def test_bad_messages_get_an_error_and_the_socket_stays_open():
    async with served() as (address, _app), Client.connect(address) as client:
        await client.connection.send("not json")
        await client.send(type="dance")
        errors = await client.wait_for("error", 2)
        assert [e["code"] for e in errors] == ["bad_message", "bad_message"]
        await client.subscribe("platform")


async def test_a_foreign_origin_is_refused_at_the_handshake_and_the_own_origin_admitted():
    settings = realtime_settings(realtime={"allowed_origins": ["https://app.example.org"]})
    async with served(settings) as (address, _app):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"ws://{address}/ws", origin="https://evil.example.com"):
                pass
        assert refused.value.response.status_code == 403
        async with Client.connect(address, origin=f"http://{address}") as own:
            await own.subscribe("platform")
        async with Client.connect(address, origin="https://app.example.org") as listed:
            await listed.subscribe("platform")


async def handshake(address: str, headers: bytes) -> bytes:
    """The status line answering a WebSocket handshake with ``headers`` (raw bytes: no client would send them)."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
        % (address.encode(), headers)
    )
    try:
        return (await asyncio.wait_for(reader.readline(), 5)).rstrip()
    finally:
        writer.close()


async def test_hostile_handshake_headers_are_answered_and_log_nothing_loud(caplog):
    caplog.set_level(logging.DEBUG)
    async with served() as (address, _app):
        cookie = (await login(address, "alice")).encode()
        # urlsplit raises ValueError on these: the handshake was refused by an unhandled exception, logged at ERROR.
        for origin in (b"http://[::1", b"http://[zz]", b"\xff"):
            assert await handshake(address, b"Origin: %s\r\n" % origin) == b"HTTP/1.1 403 Forbidden"
        for cookies in (b"a=\xff; " + cookie, b"sheepfold_console=\xc2\xb2.aaaaaaaaaaaa.x; " + cookie):
            assert await handshake(address, b"Cookie: %s\r\n" % cookies) == b"HTTP/1.1 101 Switching Protocols"
    loud = [r for r in caplog.records if r.levelno > logging.INFO or r.exc_info]
    assert not loud, [(r.name, r.levelname, r.getMessage()) for r in loud]


async def test_the_admin_route_publishes_and_refuses_without_the_token():
    async with served() as (address, _app), Client.connect(address) as client:
        await client.subscribe("platform")
        async with httpx.AsyncClient(base_url=f"http://{address}") as http:
            refused = await http.post("/realtime/publish", json={"channel": "platform", "event": 1})
            assert refused.status_code == 401
        response = await admin_publish(address, "platform", {"notice": "maintenance at noon"})
        assert response.status_code == 202
        assert response.json()["local_sockets"] == 1
        assert (await client.wait_for("event"))[0]["data"] == {"notice": "maintenance at noon"}


async def test_a_silent_client_is_closed_after_the_heartbeat_timeout():
    settings = realtime_settings(realtime={"heartbeat_interval": 0.1, "heartbeat_timeout": 0.4})
    async with (
        served(settings) as (address, _app),
        Client.connect(address) as silent,
        Client.connect(address) as lively,
    ):
        for _ in range(8):
            await lively.send(type="pong")
            await asyncio.sleep(0.1)
        assert await silent.closed() == 4408
        assert silent.of("heartbeat")
        assert lively.connection.close_code is None


async def test_shutdown_closes_sockets_with_1001_promptly():
    async with served() as (address, app), Client.connect(address) as client:
        await client.subscribe("platform")
        async with asyncio.timeout(5):
            await app.platform.plugins.await_each("sheepfold_shutdown", app=app, platform=app.platform)
        assert await client.closed() == 1001


async def test_health_and_metrics_report_the_sockets():
    async with served() as (address, _app), Client.connect(address) as client:
        await client.subscribe("platform")
        await admin_publish(address, "platform", 1)
        await client.wait_for("event")
        async with httpx.AsyncClient(base_url=f"http://{address}") as http:
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            health = (await http.get("/health", headers=headers)).json()
            metrics = (await http.get("/metrics", headers=headers)).text
            sockets = (await http.get("/realtime/sockets", headers=headers)).json()
        assert health["components"]["realtime"]["sockets"] == 1
        assert health["components"]["realtime"]["status"] == "ok"
        assert "sheepfold_realtime_deliveries_total 1.0" in metrics
        assert sockets["sockets"][0]["channels"] == ["platform"]


async def test_a_full_memory_broker_refuses_a_new_channel_with_an_error_and_keeps_the_socket():
    async with served(realtime_settings(pubsub={"max_channels": 1})) as (address, _app):
        cookie = await login(address, "alice")
        async with Client.connect(address, additional_headers={"Cookie": cookie}) as client:
            await client.subscribe("platform")
            await client.send(type="subscribe", channel="user:alice")
            assert (await client.wait_for("error"))[0]["code"] == "too_many_channels"
            await client.send(type="ping")
            await client.wait_for("pong")
