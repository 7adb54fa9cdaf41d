"""The pub/sub port's contract, for every adapter of it (the kernel's, a plugin's, a third party's)."""

from __future__ import annotations

import asyncio

from sheepfold.pubsub import PubSub


class Inbox:
    """A handler that records ``(channel, message)`` pairs, and waits for them."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []

    def __call__(self, channel: str, message: bytes) -> None:
        self.received.append((channel, message))

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, bytes]]:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:  # noqa: ASYNC110 - a handler is called, it signals nothing
                await asyncio.sleep(0.005)
        return self.received


async def settled() -> None:
    """Long enough for a stray (duplicated or misrouted) message to have arrived."""
    await asyncio.sleep(0.1)


class PubSubContract:
    """The ``PubSub`` port's contract: subclass it, with a ``pubsub`` fixture yielding a fresh adapter.

    The fixture yields the adapter started and empty, and closes it afterwards.
    """

    async def test_a_publish_nobody_listens_to_reaches_no_one(self, pubsub: PubSub) -> None:
        assert await pubsub.publish("nobody", b"x") == 0

    async def test_a_message_published_after_subscribe_arrives_once(self, pubsub: PubSub) -> None:
        inbox = Inbox()
        await pubsub.subscribe("news", inbox)
        assert await pubsub.publish("news", b"hello") >= 1
        assert await inbox.wait_for(1) == [("news", b"hello")]
        await settled()
        assert inbox.received == [("news", b"hello")]

    async def test_messages_arrive_in_publish_order(self, pubsub: PubSub) -> None:
        inbox = Inbox()
        await pubsub.subscribe("ordered", inbox)
        for number in range(200):
            await pubsub.publish("ordered", str(number).encode())
        received = await inbox.wait_for(200)
        assert [int(message) for _, message in received] == list(range(200))

    async def test_channels_are_isolated_even_when_one_name_prefixes_another(self, pubsub: PubSub) -> None:
        short, long = Inbox(), Inbox()
        await pubsub.subscribe("user:1", short)
        await pubsub.subscribe("user:10", long)
        await pubsub.publish("user:10", b"ten")
        await pubsub.publish("user:1", b"one")
        assert await short.wait_for(1) == [("user:1", b"one")]
        assert await long.wait_for(1) == [("user:10", b"ten")]
        await settled()
        assert len(short.received) == len(long.received) == 1

    async def test_every_handler_of_a_channel_receives_and_unsubscribing_one_leaves_the_other(
        self, pubsub: PubSub
    ) -> None:
        first, second = Inbox(), Inbox()
        await pubsub.subscribe("shared", first)
        await pubsub.subscribe("shared", second)
        await pubsub.publish("shared", b"both")
        await first.wait_for(1)
        await second.wait_for(1)
        await pubsub.unsubscribe("shared", first)
        await pubsub.publish("shared", b"second only")
        assert await second.wait_for(2) == [("shared", b"both"), ("shared", b"second only")]
        await settled()
        assert first.received == [("shared", b"both")]

    async def test_after_the_last_unsubscribe_nothing_is_delivered(self, pubsub: PubSub) -> None:
        inbox = Inbox()
        await pubsub.subscribe("gone", inbox)
        await pubsub.unsubscribe("gone", inbox)
        await settled()
        assert await pubsub.publish("gone", b"x") == 0
        await settled()
        assert inbox.received == []

    async def test_subscribing_a_handler_twice_delivers_once(self, pubsub: PubSub) -> None:
        inbox = Inbox()
        await pubsub.subscribe("twice", inbox)
        await pubsub.subscribe("twice", inbox)
        await pubsub.publish("twice", b"x")
        await inbox.wait_for(1)
        await settled()
        assert inbox.received == [("twice", b"x")]

    async def test_unsubscribing_an_unknown_handler_is_harmless(self, pubsub: PubSub) -> None:
        await pubsub.unsubscribe("never", Inbox())

    async def test_messages_are_bytes_kept_exactly(self, pubsub: PubSub) -> None:
        inbox = Inbox()
        await pubsub.subscribe("binary", inbox)
        payloads = [bytes(range(256)), b"", "h\u00e9llo \u2603".encode(), b"x" * 65_536]
        for payload in payloads:
            await pubsub.publish("binary", payload)
        assert [message for _, message in await inbox.wait_for(len(payloads))] == payloads

    async def test_channel_names_may_hold_colons_and_unicode(self, pubsub: PubSub) -> None:
        inbox = Inbox()
        channel = "orders:eu:caf\u00e9"
        await pubsub.subscribe(channel, inbox)
        await pubsub.publish(channel, b"x")
        assert await inbox.wait_for(1) == [(channel, b"x")]

    async def test_a_link_listener_hears_nothing_while_the_backend_serves(self, pubsub: PubSub) -> None:
        heard: list[bool] = []
        pubsub.add_link_listener(heard.append)
        inbox = Inbox()
        await pubsub.subscribe("steady", inbox)
        await pubsub.publish("steady", b"x")
        await inbox.wait_for(1)
        assert heard == []

    async def test_ping_succeeds_when_the_backend_serves(self, pubsub: PubSub) -> None:
        await pubsub.ping()
