"""The platform's own view during the run: each instance's ``/metrics`` and ``/health``, once a second.

Read with the admin token, straight from each instance (not through nginx),
beside the CPU time each instance process has used (``/proc``).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from benchmarks.fleet.sides import ADMIN_TOKEN, Side

#: A metric sample's identity: its name and its labels, sorted.
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    """One instance at one moment; ``metrics`` and ``health`` are empty when it did not answer."""

    time: float
    instance: str
    pid: int | None
    cpu_seconds: float | None
    metrics: dict[SeriesKey, float] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)


def write_samples(path: Path, samples: list[Sample]) -> None:
    """Every sample as one JSON line (series as ``name{label="value",...}``), for reading beyond the report."""
    with path.open("w") as out:
        for sample in samples:
            series = {
                name + "{" + ",".join(f'{key}="{value}"' for key, value in labels) + "}": value
                for (name, labels), value in sample.metrics.items()
            }
            record = {
                "time": sample.time,
                "instance": sample.instance,
                "pid": sample.pid,
                "cpu_seconds": sample.cpu_seconds,
            }
            out.write(json.dumps({**record, "metrics": series, "health": sample.health}) + "\n")


def parse_metrics(text: str) -> dict[SeriesKey, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def tcp_connections_opened() -> int:
    """TCP connections this machine has opened since it booted (``ActiveOpens``; loopback: each once)."""
    with open("/proc/net/snmp") as snmp:
        header, values = (line.split() for line in snmp if line.startswith("Tcp:"))
    return int(values[header.index("ActiveOpens")])


def _get(url: str) -> bytes | None:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        return error.read()  # /health answers 503 with its report when down
    except OSError:
        return None


class Sampler:
    """Samples every instance of ``side`` each ``interval`` seconds until ``stop``."""

    def __init__(self, side: Side, *, platform: bool, interval: float = 1.0) -> None:
        self.side = side
        self.platform = platform
        self.interval = interval
        self.samples: list[Sample] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.is_set():
            began = time.monotonic()
            for instance in self.side.instances:
                self.samples.append(self._sample(instance.name, instance.pid, instance.base))
            self._stopped.wait(max(0.0, self.interval - (time.monotonic() - began)))

    def _sample(self, name: str, pid: int | None, base: str) -> Sample:
        sample = Sample(time.time(), name, pid, cpu_seconds(pid))
        if not self.platform:
            return sample
        metrics = _get(base + "/metrics")
        if metrics is not None:
            sample.metrics = parse_metrics(metrics.decode())
        health = _get(base + "/health")
        if health is not None:
            with contextlib.suppress(ValueError):
                sample.health = json.loads(health)
        return sample
