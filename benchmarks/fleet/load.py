"""The open-loop load: h2load (Debian's nghttp2-client) with a staggered ramp, and what it and nginx logged.

``connections`` clients open ``ceil(connections / ramp)`` per second; each
sends ``rate`` requests per second for ``duration`` seconds (h2load's
``--rps``), whether or not the server keeps up, over HTTP/1.1 keep-alive.
h2load measures a request from when it sent it; a request that could not be
sent on time because its connection was still waiting is late, not counted
as slow (h2load does not correct for coordinated omission, as wrk2 would):
read p99 under overload as a lower bound.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fleet.scenario import Scenario
from benchmarks.fleet.sides import Side

#: The longest URI list: h2load starts every connection at its first URI and walks it in order.
_MAX_URIS = 997


@dataclass(frozen=True)
class Sent:
    """One request as h2load saw it: seconds since the epoch it started, its status (0: no answer), latency."""

    start: float
    status: int
    latency: float


@dataclass(frozen=True)
class Proxied:
    """One request as nginx saw it: when it ended, status, path, the client's user and the user served."""

    end: float
    status: int
    path: str
    user: str
    served: str


def write_uris(destination: Path, base: str, scenario: Scenario, side: Side) -> None:
    """The URIs every connection walks in order, from the first.

    As many as one connection sends (at most ``_MAX_URIS``), so that what the
    connections send together has the scenario's mix: routes are dealt by
    smooth weighted round-robin and sessions in turn, so any stretch of the
    list keeps the proportions.
    """
    count = min(_MAX_URIS, scenario.load.rate * scenario.load.duration)
    total = sum(route.weight for route in scenario.routes)
    credit = {route.path: 0 for route in scenario.routes}
    share = scenario.load.signed_in
    lines = []
    signed_in = 0
    for number in range(count):
        for route in scenario.routes:
            credit[route.path] += route.weight
        path = max(credit, key=lambda name: credit[name])
        credit[path] -= total
        uri = base + path
        if side.users and math.floor((number + 1) * share) > math.floor(number * share):
            user = side.users[signed_in % len(side.users)]
            signed_in += 1
            uri += f"?u={user.user}&s={user.cookie}"
        lines.append(uri)
    destination.write_text("\n".join(lines) + "\n")


def h2load_command(scenario: Scenario, uris: Path, log: Path) -> list[str]:
    load = scenario.load
    per_second = max(1, math.ceil(load.connections / max(load.ramp, 1)))
    return [
        "h2load",
        "--h1",
        "--threads=1",
        f"--clients={load.connections}",
        f"--rate={per_second}",
        "--rate-period=1s",
        f"--requests={load.connections * load.rate * load.duration}",
        f"--rps={load.rate}",
        f"--input-file={uris}",
        f"--log-file={log}",
    ]


def start_load(folder: Path, scenario: Scenario, side: Side) -> subprocess.Popen[bytes]:
    uris = folder / f"uris-{side.name}.txt"
    write_uris(uris, side.nginx.base, scenario, side)
    command = h2load_command(scenario, uris, folder / f"h2load-{side.name}.tsv")
    with (folder / f"h2load-{side.name}.txt").open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def read_sent(path: Path) -> list[Sent]:
    sent = []
    for line in path.read_text().splitlines():
        start, status, elapsed = line.split("\t")[:3]
        sent.append(Sent(int(start) / 1e6, max(int(status), 0), int(elapsed) / 1e6))
    return sent


def read_proxied(path: Path) -> list[Proxied]:
    proxied = []
    for line in path.read_text().splitlines():
        end, status, _time, uri, user, served = line.split("\t")
        proxied.append(
            Proxied(float(end), int(status), uri, "" if user == "-" else user, "" if served == "-" else served)
        )
    return proxied


def h2load_summary(path: Path) -> dict[str, int]:
    """h2load's own counts (``requests: N total, N started, N done, N succeeded, N failed, N errored``)."""
    text = path.read_text()
    found = re.search(r"requests: (.*)", text)
    if found is None:
        return {}
    return {name: int(count) for count, name in re.findall(r"(\d+) (\w+)", found.group(1))}
