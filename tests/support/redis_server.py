"""redis-server processes that tests start, kill and restart on spare loopback ports.

Tests that break Redis on purpose never touch the machine's shared Redis:
they start their own here, bound to 127.0.0.1, without persistence, and
stop it afterwards.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sheepfold.testing import in_ci
from tests.support.ports import spare_port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            sock.settimeout(0.2)
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` on ``127.0.0.1:port``; :meth:`kill` and :meth:`start` again keep the port.

    ``extra`` are more ``redis-server`` arguments (cluster mode). Use it as a
    context manager or call :meth:`stop`; a server left running is stopped at
    interpreter exit only by luck, so always stop it.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        extra: list[str] | None = None,
        directory: Path | None = None,
        config: str | None = None,
    ):
        if shutil.which("redis-server") is None:
            if in_ci():
                pytest.fail("redis-server is not installed; CI=true requires it", pytrace=False)
            pytest.skip("redis-server is not installed")
        self.port = port or spare_port()
        self.extra = list(extra or [])
        self.config = config  # text of a config file, for a Sentinel (which must have one it can rewrite)
        self._own_directory = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="sheepfold-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        config_file = []
        if self.config is not None:
            path = self.directory / f"redis-{self.port}.conf"
            path.write_text(self.config)
            config_file = [str(path)]
        command = [
            "redis-server",
            *config_file,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--loglevel", "warning",
            *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-conversation, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its connections open and answers nothing (a hung host, a GC pause)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: a frozen server carries on where it stopped."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server (if running) and remove its directory when this object made it."""
        self.kill()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _cluster_ports(count: int) -> list[int]:
    # A cluster node also listens on port + 10000 (the cluster bus): both must be free.
    ports: list[int] = []
    while len(ports) < count:
        port = spare_port()
        if port + 10000 < 65536 and port not in ports and _free(port + 10000):
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_sentinel(
    master: RedisServer, service_name: str = "mymaster", *, down_after_ms: int = 500, quorum: int = 1
) -> RedisServer:
    """A Redis Sentinel on a spare loopback port that watches ``master`` as ``service_name``.

    ``quorum`` sentinels must agree that the master is down (1: this one alone), and each calls
    it down after ``down_after_ms`` milliseconds without an answer (Redis' default is 30 s), so a
    test can fail over fast.
    """
    config = (
        f"sentinel monitor {service_name} 127.0.0.1 {master.port} {quorum}\n"
        f"sentinel down-after-milliseconds {service_name} {down_after_ms}\n"
        f"sentinel failover-timeout {service_name} 5000\n"
    )
    return RedisServer(extra=["--sentinel"], config=config).start()


def start_sentinels(
    master: RedisServer, service_name: str, *, count: int = 3, quorum: int = 2, timeout: float = 20.0
) -> list[RedisServer]:
    """``count`` sentinels watching ``master``, returned once each knows the others and a replica.

    Sentinels find each other through the master (hello messages every 2 s); until they do,
    no majority could elect one of them to run a failover.
    """
    sentinels = [start_sentinel(master, service_name, quorum=quorum) for _ in range(count)]
    deadline = time.monotonic() + timeout
    try:
        while not all(
            _cli(sentinel.port, "sentinel", "sentinels", service_name).count("\nip\n") == count - 1
            and "ip" in _cli(sentinel.port, "sentinel", "replicas", service_name)
            for sentinel in sentinels
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinels did not find each other and the replica in time")
            time.sleep(0.1)
    except BaseException:
        for sentinel in sentinels:
            sentinel.stop()
        raise
    return sentinels


class RedisCluster:
    """A Redis Cluster of ``masters`` primaries, each with ``replicas`` replicas, on loopback ports.

    :meth:`primaries` reads which nodes are masters now (a replica becomes one when
    its master is killed); :meth:`server` finds a node's :class:`RedisServer` by port.
    """

    def __init__(self, masters: int = 3, *, replicas: int = 0) -> None:
        self.masters = masters
        self.replicas = replicas
        self.directory = Path(tempfile.mkdtemp(prefix="sheepfold-cluster-"))
        self.servers = [
            RedisServer(
                port,
                extra=["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                       "--cluster-node-timeout", "2000"],
                directory=self.directory,
            )
            for port in _cluster_ports(masters * (1 + replicas))
        ]  # fmt: skip

    @property
    def nodes(self) -> list[str]:
        return [f"127.0.0.1:{server.port}" for server in self.servers]

    def start(self, timeout: float = 30.0) -> RedisCluster:
        """Start every node, join them with ``redis-cli --cluster create``, wait until every node agrees.

        Waits for ``cluster_state:ok`` on every node and, with replicas, for each
        replica to have finished its first sync, so a test starts on a cluster at rest.
        """
        try:
            for server in self.servers:
                server.start()
            subprocess.run(
                ["redis-cli", "--cluster", "create", *self.nodes, "--cluster-replicas", str(self.replicas),
                 "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=timeout,
            )  # fmt: skip
            deadline = time.monotonic() + timeout
            while not self._at_rest():
                if time.monotonic() > deadline:
                    raise RuntimeError("Redis Cluster did not reach cluster_state:ok with its replicas in sync")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise
        return self

    def _at_rest(self) -> bool:
        if not all("cluster_state:ok" in _cli(server.port, "cluster", "info") for server in self.servers):
            return False
        if len(self.primaries()) != self.masters:
            return False
        return all(
            "master_link_status:up" in _cli(server.port, "info", "replication")
            for server in self.servers
            if server.port not in self.primaries()
        )

    def primaries(self) -> list[int]:
        """Ports of the nodes that are masters now (with slots), as one live node sees it."""
        for server in self.servers:
            if server.process is None:
                continue
            lines = _cli(server.port, "cluster", "nodes").splitlines()
            if lines:
                return sorted(
                    int(fields[1].split("@")[0].rpartition(":")[2])
                    for fields in (line.split() for line in lines)
                    if "master" in fields[2].split(",") and "fail" not in fields[2] and len(fields) > 8
                )
        return []

    def move_slot(self, slot: int, to_port: int) -> None:
        """Hand ``slot`` (holding no keys) to the primary on ``to_port``, as the last step of a resharding does.

        ``CLUSTER SETSLOT <slot> NODE <id>`` on the new owner first, then on every other primary:
        the old owner drops the slot, and pushes ``SUNSUBSCRIBE`` to its sharded subscribers of it.
        """
        target = _cli(to_port, "cluster", "myid").strip()
        for port in [to_port, *(port for port in self.primaries() if port != to_port)]:
            answer = _cli(port, "cluster", "setslot", str(slot), "node", target)
            if answer.strip() != "OK":
                raise RuntimeError(f"CLUSTER SETSLOT {slot} NODE on {port}: {answer!r}")

    def server(self, port: int) -> RedisServer:
        """The node listening on ``port``."""
        return next(server for server in self.servers if server.port == port)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _cli(port: int, *command: str) -> str:
    """``redis-cli`` against a node; its output, or "" when the node does not answer."""
    try:
        result = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *command], capture_output=True, text=True, timeout=5
        )
    except subprocess.TimeoutExpired:
        return ""
    return result.stdout


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A Redis Cluster of three masters, each with a replica, started once for the session and stopped after it.

    Shared by every test of the session: tests write under a key prefix of their own and
    must not kill its nodes (start a :class:`RedisCluster` of their own for that).
    """
    cluster = RedisCluster(3, replicas=1).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_cluster_nodes(redis_cluster: RedisCluster) -> list[str]:
    """``host:port`` of every node of the session's :func:`redis_cluster`."""
    return redis_cluster.nodes
