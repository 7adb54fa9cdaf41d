"""The shipped fallback alert on a real Prometheus scraping two instances: Redis killed, it fires; back, it resolves.

Two ``sheepfold serve --workers 2`` instances keep state and cache on a Redis of
the test's own; Prometheus (Debian's binary) scrapes each as one target every
0.5 s, as docs/operations.md tells operators to, and evaluates the
repository's rules file as often, with only ``SheepfoldCapabilityOnFallback``'s
``for:`` shortened, so its expression is the one operators load. The alert's
value is the instance's worker processes on their fallback: both, once Redis is gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.ratelimit.fleet import fleet
from tests.support.admin import ADMIN_TOKEN
from tests.support.plugins import disabled_except
from tests.support.prometheus_server import PrometheusServer, binary, rules_with_for
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import RedisServer

ALERT = "SheepfoldCapabilityOnFallback"
#: Each instance runs this many worker processes, scraped as one target (docs/operations.md, "Wiring Prometheus").
WORKERS = 2
NEEDED_PLUGINS = {"redis"}


def fleet_on_redis(redis_url: str, prefix: str) -> str:
    """State and cache on Redis, memory as their fallback; quick probes and heartbeats."""
    return f"""
[testing.plugins]
disabled = {disabled_except(NEEDED_PLUGINS)}

[testing.redis]
url = "{redis_url}"
prefix = "{prefix}"
metrics_interval = 0.5

[testing.switch]
probe_interval = 0.2

[testing.state]
backend = "redis"
fallback = "memory"

[testing.cache]
backend = "redis"
fallback = "memory"

[testing.fleet]
heartbeat_interval = 0.5

[testing.admin]
token = "{ADMIN_TOKEN}"
"""


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)
    return result


def test_the_fallback_alert_fires_when_redis_dies_and_resolves_when_it_returns():
    binary("prometheus")  # skip (fail under CI) before starting anything
    with (
        RedisServer() as redis,
        fleet(fleet_on_redis(redis.url, fresh_prefix()), workers=WORKERS) as instances,
        PrometheusServer(
            [instance.url.removeprefix("http://") for instance in instances],
            rules_with_for(ALERT, "0s"),
            token=ADMIN_TOKEN,
        ) as prometheus,
    ):
        targets = {instance.url.removeprefix("http://") for instance in instances}

        def scraped() -> bool:
            up = prometheus.api("query?query=up")["result"]
            return {sample["metric"]["instance"] for sample in up if sample["value"][1] == "1"} == targets

        def phases() -> set[tuple[str, str]]:
            """(instance, capability) with every worker process on the backend."""
            result = prometheus.api(f'query?query=sheepfold_capability_phase{{phase="backend"}} == {WORKERS}')["result"]
            return {(sample["metric"]["instance"], sample["metric"]["capability"]) for sample in result}

        wait_for(scraped, "Prometheus scrapes both instances")
        wait_for(lambda: {(target, "cache") for target in targets} <= phases(), "both instances on Redis")
        time.sleep(1.0)  # two evaluations on a healthy fleet
        assert prometheus.alerts(ALERT, "firing") == prometheus.alerts(ALERT, "pending") == []

        redis.kill()

        def firing_everywhere() -> bool:
            """Firing for state and cache on both instances, each with all its worker processes on the fallback."""
            alerts = prometheus.alerts(ALERT)
            firing = {
                (alert["labels"]["instance"], alert["labels"]["capability"])
                for alert in alerts
                if float(alert["value"]) == WORKERS
            }
            return {(target, capability) for target in targets for capability in ("state", "cache")} <= firing

        wait_for(firing_everywhere, f"{ALERT} firing for state and cache of every worker of both instances")
        [alert, *_] = prometheus.alerts(ALERT)
        assert alert["labels"]["severity"] == "warning"
        assert alert["annotations"]["runbook_url"] == "docs/operations.md#sheepfoldcapabilityonfallback"
        assert "runs on its fallback" in alert["annotations"]["summary"]

        redis.start()
        wait_for(
            lambda: not prometheus.alerts(ALERT, "firing") and not prometheus.alerts(ALERT, "pending"),
            f"{ALERT} resolved once Redis is back",
        )
        assert {(target, capability) for target in targets for capability in ("state", "cache")} <= phases()
        # The flapping alert's input: each worker's switches, labelled with the adapter switched to.
        switches = prometheus.api('query?query=sheepfold_fallback_switches_total{capability="cache"}')["result"]
        assert {(sample["metric"]["instance"], sample["metric"]["to"]) for sample in switches} == {
            (target, adapter) for target in targets for adapter in ("memory", "redis")
        }
        assert all(float(sample["value"][1]) == WORKERS for sample in switches)
