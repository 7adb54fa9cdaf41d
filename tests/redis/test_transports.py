"""``redis.url`` over TLS (``rediss://``) and a unix socket (``unix://``), against redis-servers of the test's own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sheepfold_redis import RedisConnection, RedisSettings, unavailable_on_failure
from tests.support.ports import spare_port
from tests.support.redis_server import RedisServer


async def round_trip(url: str, *, multiplexed: bool) -> tuple[bytes | None, bytes | None]:
    """What the pooled client and :meth:`RedisConnection.execute` each read back of what the other wrote."""
    connection = RedisConnection(RedisSettings(url=url, prefix="transport", command_timeout=2.0, connect_timeout=2.0))
    try:
        assert (connection.multiplexed is not None) is multiplexed
        assert await connection.ping() > 0
        with unavailable_on_failure():
            await connection.client.set(connection.key("pooled"), b"v")
            await connection.execute("SET", connection.key("shared"), b"w")
            return await connection.execute("GET", connection.key("pooled")), await connection.client.get(
                connection.key("shared")
            )
    finally:
        await connection.close()


async def test_a_unix_socket_url(tmp_path):
    socket_path = tmp_path / "redis.sock"
    with RedisServer(extra=["--unixsocket", str(socket_path), "--unixsocketperm", "700"]):
        assert await round_trip(f"unix://{socket_path}?db=0", multiplexed=True) == (b"v", b"w")


@pytest.fixture
def self_signed(tmp_path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key; the certificate is its own CA."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_a_rediss_url_speaks_tls(self_signed):
    cert, key = self_signed
    tls_port = spare_port()
    tls = ["--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
           "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]  # fmt: skip
    with RedisServer(extra=tls):  # the plain port stays open only to tell when the server is up
        # TLS keeps redis-py's connections for every call.
        assert await round_trip(f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={cert}", multiplexed=False) == (
            b"v",
            b"w",
        )
