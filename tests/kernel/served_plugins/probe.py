"""A single-file plugin for tests of ``sheepfold serve`` processes: which worker answered, and a log line.

Loaded through ``plugins.directory``. ``POST /probe`` answers 202 (a status
no other route of the kernel answers, so ``/metrics`` counts exactly these
requests) with the worker's pid and the directory it shares its metrics in.
"""

from __future__ import annotations

import logging
import os

from blacksheep import Response, Router, json

from sheepfold import hookimpl

logger = logging.getLogger("sheepfold.tests.probe")


@hookimpl
def sheepfold_register_routes(router: Router) -> None:
    async def probe() -> Response:
        logger.info("probe answered")
        return json({"pid": os.getpid(), "metrics_directory": os.environ.get("PROMETHEUS_MULTIPROC_DIR")}, status=202)

    router.add_post("/probe", probe)
