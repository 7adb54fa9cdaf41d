"""A PostgreSQL of the test's own (initdb, pg_ctl) on a spare loopback port, to stop, hold in start-up, overfill.

The machine's shared PostgreSQL is never stopped by a test; states a client
meets while a server restarts are produced on this one instead. As root, the
server runs as the ``postgres`` user (PostgreSQL refuses root).
:meth:`PostgresServer.replica` makes a streaming replica of a running server
(``pg_basebackup -R``) in a directory and on a port of its own.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import in_ci
from tests.support.ports import spare_port

BINARIES = [Path("/usr/lib/postgresql") / version / "bin" for version in ("17", "16", "15", "14")]


def _bin(name: str) -> str:
    for directory in BINARIES:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        message = f"{name} (PostgreSQL server binaries) is not installed"
        if in_ci():
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)
    return found


class PostgresServer:
    """One cluster in a temporary directory, on ``127.0.0.1:port``, trust authentication, database ``postgres``.

    :meth:`start` (optionally ``standby=True``: it then stays in start-up and
    answers every connection 57P03, "cannot connect now"), :meth:`stop`
    (``mode`` as pg_ctl's: ``fast`` ends sessions with 57P01, ``smart`` waits
    for them and refuses new ones meanwhile). ``max_connections`` is small, so a
    test can run out of connections (53300) on purpose.
    """

    def __init__(self, max_connections: int = 5, *, primary: PostgresServer | None = None) -> None:
        self.port = spare_port()
        self.max_connections = max_connections
        self.directory = Path(tempfile.mkdtemp(prefix="sheepfold-postgres-"))
        self.data = self.directory / "data"
        #: The server this one streams from (a replica), else None.
        self.primary = primary
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        if primary is None:
            self._run(_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        else:
            # A copy of the running primary, with standby.signal and its primary_conninfo written (-R);
            # initdb's pg_hba.conf trusts replication connections from 127.0.0.1.
            self._run(
                _bin("pg_basebackup"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(primary.port),
                "-U", "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync",
            )  # fmt: skip

    def replica(self) -> PostgresServer:
        """A new streaming replica of this server (which must be running); :meth:`start` it.

        Its ``max_connections`` is this server's, as a hot standby requires.
        """
        return PostgresServer(self.max_connections, primary=self)

    @property
    def is_replica(self) -> bool:
        return self.primary is not None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, *, standby: bool = False) -> PostgresServer:
        """Start and wait until it accepts connections (a standby: until it is listening).

        A replica starts as a hot standby streaming from its primary, and is
        waited for until it accepts (read-only) connections. Every server
        writes WAL for replicas (``wal_level=replica``).
        """
        signal_file = self.data / "standby.signal"
        if standby:
            signal_file.touch()
            if self._user is not None:
                shutil.chown(signal_file, self._user)
        elif not self.is_replica:
            signal_file.unlink(missing_ok=True)
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory} "
            f"-c max_connections={self.max_connections} -c superuser_reserved_connections=0 "
            f"-c hot_standby={'off' if standby else 'on'} -c fsync=off -c wal_level=replica"
        )
        self._run(
            _bin("pg_ctl"), "start", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"),
            *(["--no-wait"] if standby else ["-w"]),
        )  # fmt: skip
        if standby:
            self._run(_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "10", check=False)
        return self

    def stop(self, mode: str = "fast", *, wait: bool = True) -> None:
        """Stop the server (``fast``, ``smart`` or ``immediate``); ``wait=False`` returns as it begins."""
        self._run(_bin("pg_ctl"), "stop", "-D", str(self.data), "-m", mode, *([] if wait else ["--no-wait"]))

    def close(self) -> None:
        """Stop it if it runs and remove its directory."""
        if (self.data / "postmaster.pid").exists():
            self._run(_bin("pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _run(self, *command: str, check: bool = True) -> None:
        prefix = ["runuser", "-u", self._user, "--"] if self._user is not None else []
        subprocess.run([*prefix, *command], check=check, capture_output=True, timeout=60)
