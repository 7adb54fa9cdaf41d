"""Asking another instance directly how it is: the fleet's view while the shared state is down."""

from __future__ import annotations

import asyncio

from blacksheep.client import ClientSession

from sheepfold.fleet.record import InstanceRecord

#: The admin route each instance answers with its own record (``sheepfold.http.fleet``).
SELF_PATH = "/-/fleet/self"


class PeerUnavailable(Exception):
    """A peer did not answer with its record (unreachable, too slow, refused, or not an instance)."""


async def ask_peer(address: str, *, token: str, timeout: float) -> InstanceRecord:
    """The record the instance at ``address`` (``http://host:port``) gives of itself now.

    One ``GET /-/fleet/self`` bearing the admin ``token`` (none when empty),
    within ``timeout`` seconds. Raises :class:`PeerUnavailable`.
    """
    if not address.startswith(("http://", "https://")):
        raise PeerUnavailable(f"not an http(s) address: {address!r}")
    headers = [(b"Authorization", b"Bearer " + token.encode())] if token else None
    try:
        async with (
            asyncio.timeout(timeout),
            ClientSession(connection_timeout=timeout, request_timeout=timeout, follow_redirects=False) as client,
        ):
            response = await client.get(address.rstrip("/") + SELF_PATH, headers=headers)
            if response.status != 200:
                raise PeerUnavailable(f"{address} answered {response.status}")
            data = await response.json()
    except PeerUnavailable:
        raise
    except Exception as error:  # connection refused, timeout, a reply that is not JSON
        raise PeerUnavailable(f"{address}: {type(error).__name__}: {error}") from None
    try:
        return InstanceRecord.from_json(data)
    except ValueError as error:
        raise PeerUnavailable(f"{address}: {error}") from None
