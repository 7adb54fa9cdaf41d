"""The console in a test app: the plugin, a statistics section of a test plugin, and a job that fails until fixed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sheepfold import hookimpl
from sheepfold.jobs import DoNotRetry, JobContext, JobDefinition
from sheepfold.statistics import Statistics
from sheepfold_console import plugin as console_plugin

#: Accounts whose charge job succeeds (a test adds one to "fix" a failed job before retrying it).
FIXED: set[str] = set()
#: Every run of the charge job, by account.
RUNS: dict[str, int] = {}
QUEUE = "billing"


async def charge(ctx: JobContext, account: str, *, api_key: str, options: dict[str, Any]) -> str:
    RUNS[account] = RUNS.get(account, 0) + 1
    if account not in FIXED:
        raise DoNotRetry(f"account {account} is closed")
    return "charged"


@hookimpl
def sheepfold_statistics(platform: Any) -> Statistics:
    return Statistics(
        "limiter",
        counters={"allowed": 10, "limited": 2},
        gauges={"penalties": 1},
        tables={"most_limited": [{"key": "ip:192.0.2.1", "limited": 2}]},
    )


figures = SimpleNamespace(
    name="console-test-figures",
    sheepfold_statistics=sheepfold_statistics,
    sheepfold_jobs=lambda: [JobDefinition(charge, queue=QUEUE, max_tries=1)],
)
PLUGINS = [console_plugin, figures]
#: Plain HTTP in tests: the cookie cannot be Secure.
SETTINGS: dict[str, Any] = {"console": {"cookie_secure": False}, "fleet": {"heartbeat_interval": 0.2}}
