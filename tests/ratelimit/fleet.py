"""Real ``sheepfold serve`` processes sharing one Redis, for the cross-instance proofs.

Each instance is a separate process (:class:`~tests.support.served_instance.ServedInstance`)
on a spare loopback port, stopped when the test ends.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.admin import ADMIN_TOKEN
from tests.support.plugins import disabled_except
from tests.support.served_instance import ServedInstance

#: The installed plugins these processes run; every other one is disabled, so the proof does not
#: depend on what other plugins need (secrets, databases) to start.
NEEDED_PLUGINS = {"ratelimit", "redis"}


def fleet_settings(redis_url: str, prefix: str, limit: str, *, expected_instances: int = 2) -> str:
    """A settings file: ``GET /health/live`` limited by policy ``fleet`` on Redis, memory as fallback.

    Only 127.0.0.1 is a trusted proxy, so a peer on another loopback address
    (127.0.0.2) is an untrusted client. No other route is limited.
    """
    return f"""
[testing.plugins]
disabled = {disabled_except(NEEDED_PLUGINS)}

[testing.redis]
url = "{redis_url}"
prefix = "{prefix}"

[testing.switch]
probe_interval = 0.2

[testing.ratelimit]
backend = "redis"
fallback = "memory"
default_policy = ""
exempt_paths = []
trusted_proxies = ["127.0.0.1"]
expected_instances = {expected_instances}

[testing.ratelimit.routes]
"/health/live" = "fleet"

[testing.ratelimit.policies.fleet]
limit = "{limit}"

[testing.admin]
token = "{ADMIN_TOKEN}"
"""


@contextlib.contextmanager
def fleet(settings: str, size: int = 2, *, workers: int = 1) -> Iterator[list[ServedInstance]]:
    """``size`` instances serving ``settings`` with ``--workers workers``, ready; all stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="sheepfold-fleet-") as directory:
        settings_file = Path(directory) / "settings.toml"
        settings_file.write_text(settings)
        instances = [ServedInstance(settings_file, workers=workers) for _ in range(size)]
        try:
            for instance in instances:
                instance.wait_ready()
            yield instances
        finally:
            for instance in instances:
                instance.close()
