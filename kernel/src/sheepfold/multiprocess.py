"""Metrics that add up over the worker processes of one instance: prometheus_client's multiprocess mode.

With ``sheepfold serve --workers N`` a scrape of ``/metrics`` reaches one
worker. So that it reports the whole instance, every worker writes its
metrics to files in one directory, ``PROMETHEUS_MULTIPROC_DIR``, which
``serve`` makes (empty) before the workers start and removes when it ends;
the worker that answers a scrape reads all the files and adds them up
(``prometheus_client.multiprocess.MultiProcessCollector``).

prometheus_client's own metrics write to the files on every change. The
kernel's lock-free tallies (:mod:`sheepfold.tally`) stay plain integers on
the request path and are copied to the files every ``metrics.flush_interval``
seconds, before each scrape and when the process stops. Counters and
histograms of a worker that ended stay in the sum (a restarted worker does
not look like a reset); its ``live*`` gauges are removed (``mark_process_dead``)
when it stops, or at the next scrape if it was killed.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from sheepfold.tally import TallyCounter, TallyHistogram

logger = logging.getLogger("sheepfold.metrics")

#: The environment variable prometheus_client reads, at its import, to write metrics to files.
DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client names a process's file of live gauges gauge_live<mode>_<pid>.db.
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def shared_directory() -> str | None:
    """The directory this process shares its metrics in, or None when it keeps them to itself.

    None unless ``PROMETHEUS_MULTIPROC_DIR`` names a directory *and*
    prometheus_client was imported with it set (it chooses where values live
    at import); a variable set later is ignored with a warning.
    """
    path = os.environ.get(DIRECTORY_VARIABLE)
    if not path:
        return None
    if values.ValueClass is values.MutexValue:
        logger.warning("%s was set after prometheus_client was imported: metrics are this process's only", path)
        return None
    return path


def prepare_directory(path: str) -> None:
    """Make ``path`` and empty it of metric files: a new instance starts counting from zero."""
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)


@contextlib.contextmanager
def directory_for_workers() -> Iterator[str]:
    """For ``sheepfold serve --workers N``: the directory the workers will share, set in the environment.

    ``PROMETHEUS_MULTIPROC_DIR`` when the operator set it (emptied now, kept
    after), else a new temporary directory, removed on exit. Enter it before
    the workers start: they inherit the variable.
    """
    given = os.environ.get(DIRECTORY_VARIABLE)
    path = given or tempfile.mkdtemp(prefix="sheepfold-metrics-")
    prepare_directory(path)
    os.environ[DIRECTORY_VARIABLE] = path
    try:
        yield path
    finally:
        if not given:
            del os.environ[DIRECTORY_VARIABLE]
            shutil.rmtree(path, ignore_errors=True)


def share(tallies: Iterable[TallyCounter | TallyHistogram]) -> None:
    """Copy each tally's current values into this process's metric files."""
    for tally in tallies:
        tally.share()


def forget_dead_processes(path: str) -> None:
    """Remove the live gauges of processes that ended without saying so (killed): they no longer count."""
    for name in os.listdir(path):
        match = _LIVE_GAUGE_FILE.fullmatch(name)
        if match is not None and not _is_running(int(match.group(1))):
            mark_process_dead(int(match.group(1)), path)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client


def forget_this_process(path: str) -> None:
    """Remove this process's live gauges, at its end; its counters and histograms stay in the sum."""
    mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client


def render(path: str) -> bytes:
    """Every process's metrics in ``path``, added up, in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client
    return generate_latest(registry)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    return True
