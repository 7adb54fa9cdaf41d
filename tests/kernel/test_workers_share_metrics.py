"""With ``sheepfold serve --workers N``, ``/metrics`` reports the sum over the instance's worker processes.

Real processes: one ``sheepfold serve --workers 2`` (the kernel and a probe
route from ``served_plugins/``), requests on fresh connections until both
workers answered some, then ``/metrics`` read until it shows exactly the
number sent, whichever worker answers the scrape.
"""

from __future__ import annotations

import collections
import os
import signal
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from tests.kernel.served_plugins import probe
from tests.support.admin import ADMIN_ENV, ADMIN_HEADERS
from tests.support.served_instance import ServedInstance

WORKERS = 2
AT_LEAST = 200
FLUSH_INTERVAL = 0.2
PROBES = {"method": "POST", "status": "202"}


def settings_file(directory: Path) -> Path:
    disabled = sorted(entry.name for entry in metadata.entry_points(group="sheepfold.plugins"))
    path = directory / "settings.toml"
    path.write_text(
        f"""
[testing]
plugins = {{ directory = "{Path(probe.__file__).parent}", disabled = {disabled!r} }}
metrics = {{ flush_interval = {FLUSH_INTERVAL} }}
""".replace("'", '"')
    )
    return path


@pytest.fixture
def fresh_connections() -> Iterator[httpx.Client]:
    """A client that opens a new connection per request, so that every worker gets some of them."""
    with httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield client


def probe_worker(client: httpx.Client, url: str) -> int:
    """``POST /probe``: the pid of the worker that answered."""
    response = client.post(f"{url}/probe")
    assert response.status_code == 202
    return response.json()["pid"]


def spread(client: httpx.Client, url: str, at_least: int) -> collections.Counter[int]:
    """``POST /probe`` until ``at_least`` were answered and every worker answered some: count by worker pid."""
    answered: collections.Counter[int] = collections.Counter()
    while answered.total() < at_least or len(answered) < WORKERS:
        assert answered.total() < 20 * at_least, f"only workers {sorted(answered)} answered"
        answered[probe_worker(client, url)] += 1
    return answered


def scrape(client: httpx.Client, url: str) -> dict[tuple[str, frozenset], float]:
    text = client.get(f"{url}/metrics", headers=ADMIN_HEADERS).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape_until(client: httpx.Client, url: str, holds, timeout: float = 30.0) -> dict[tuple[str, frozenset], float]:
    """Scrape until ``holds(samples)``; the last scrape's samples."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(client, url)
        if holds(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def write_stale_counter(directory: Path, count: float) -> None:
    """A counter file left by a worker of an earlier run: counted, were the directory not emptied at start."""
    directory.mkdir()
    stale = MmapedDict(str(directory / "counter_999999.db"))
    key = mmap_key(
        "sheepfold_http_requests", "sheepfold_http_requests_total", ["method", "status"], ["POST", "202"], "stale"
    )
    stale.write_value(key, count, 0.0)
    stale.close()


def test_metrics_add_up_over_the_workers_and_survive_a_killed_worker(tmp_path, fresh_connections):
    shared = tmp_path / "metrics"
    write_stale_counter(shared, 1000)
    instance = ServedInstance(
        settings_file(tmp_path), workers=WORKERS, env={**ADMIN_ENV, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    )
    try:
        instance.wait_ready()
        client, url = fresh_connections, instance.url
        answered = spread(client, url, AT_LEAST)
        sent = answered.total()

        def counted(samples):
            return value(samples, "sheepfold_http_requests_total", **PROBES)

        samples = scrape_until(client, url, lambda samples: counted(samples) == sent)
        assert counted(samples) == sent, f"{sent} sent over workers {dict(answered)}"
        assert value(samples, "sheepfold_http_request_duration_seconds_count", method="POST") == sent
        # Live gauges add up over the workers (livesum), with no per-process series.
        assert value(samples, "sheepfold_capability_phase", capability="cache", phase="backend") == WORKERS
        assert not any("pid" in dict(labels) for _name, labels in samples)
        time.sleep(3 * FLUSH_INTERVAL)
        assert counted(scrape(client, url)) == sent  # exactly: nothing counted twice by later copies

        victim = next(iter(answered))
        os.kill(victim, signal.SIGKILL)  # uvicorn starts another worker in its place
        deadline = time.monotonic() + 30
        while len(set(answered) - {victim}) < WORKERS:  # until the replacement answered too
            assert time.monotonic() < deadline, "no worker replaced the killed one"
            answered[probe_worker(client, url)] += 1
        sent = answered.total()

        samples = scrape_until(client, url, lambda samples: counted(samples) == sent)
        # The killed worker's counts stay in the sum; its live gauges are gone (else 3 processes would be
        # in phase "backend").
        assert counted(samples) == sent
        assert value(samples, "sheepfold_capability_phase", capability="cache", phase="backend") == WORKERS
    finally:
        instance.close()


def test_serve_makes_the_shared_directory_for_its_workers_and_removes_it_on_exit(tmp_path, fresh_connections):
    instance = ServedInstance(settings_file(tmp_path), workers=WORKERS, env=ADMIN_ENV)
    try:
        instance.wait_ready()
        directories = {fresh_connections.post(f"{instance.url}/probe").json()["metrics_directory"] for _ in range(20)}
        [directory] = directories
        assert directory and os.path.isdir(directory)
    finally:
        instance.close()
    assert not os.path.exists(directory)


def test_one_worker_keeps_its_metrics_to_itself(tmp_path, fresh_connections):
    instance = ServedInstance(settings_file(tmp_path), env=ADMIN_ENV)
    try:
        instance.wait_ready()
        assert fresh_connections.post(f"{instance.url}/probe").json()["metrics_directory"] is None
        assert value(scrape(fresh_connections, instance.url), "sheepfold_http_requests_total", **PROBES) == 1
    finally:
        instance.close()
