"""The fleet harness's arithmetic (benchmarks/fleet/analysis.py) and its scenario files, without a fleet."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks.fleet.analysis import (
    expected_metrics,
    fallback_switches,
    histogram_quantile,
    identity_check,
    increase,
    windows,
)
from benchmarks.fleet.load import Proxied, Sent, write_uris
from benchmarks.fleet.profile import OTHER, read_profile
from benchmarks.fleet.sampler import Sample, parse_metrics
from benchmarks.fleet.scenario import read_scenario
from benchmarks.fleet.sides import Side, SignedIn

SCENARIOS = Path(__file__).resolve().parents[2] / "benchmarks" / "fleet" / "scenarios"


def test_a_signed_in_request_served_as_nobody_or_as_someone_else_is_counted() -> None:
    check = identity_check(
        [
            Proxied(1.0, 200, "/fleet/work", "alice", "alice"),
            Proxied(2.0, 200, "/fleet/work", "alice", ""),  # read as anonymous
            Proxied(3.0, 200, "/fleet/work", "bob", "alice"),  # another user's answer
            Proxied(4.0, 200, "/fleet/work", "", ""),  # an anonymous client: nothing to check
            Proxied(5.0, 503, "/fleet/db", "bob", ""),  # not served: counted as an error elsewhere
        ]
    )
    assert (check.signed_in, check.anonymous, check.other_user, check.anonymous_at) == (3, 1, 1, [2.0])


def test_windows_count_non_2xx_by_code_and_take_percentiles_of_answered_requests() -> None:
    sent = [Sent(100.0 + i / 100, 200, i / 1000) for i in range(100)] + [Sent(100.5, 503, 0.001), Sent(101.2, 0, 0.0)]
    first, second = windows(sent, origin=100.0, length=1.0)
    assert (first.requests, first.non_2xx) == (101, {503: 1})
    assert first.p50 == pytest.approx(0.049) and first.p99 == pytest.approx(0.098)
    assert (second.requests, second.non_2xx, math.isnan(second.p95)) == (1, {0: 1}, True)


def _sample(time: float, instance: str, pid: int, text: str) -> Sample:
    return Sample(time, instance, pid, None, parse_metrics(text))


def test_a_counter_grows_over_the_run_across_a_restarted_instance() -> None:
    samples = [
        _sample(0, "a", 1, 'sheepfold_http_requests_total{method="GET",status="200"} 10\n'),
        _sample(1, "a", 1, 'sheepfold_http_requests_total{method="GET",status="200"} 50\n'),
        _sample(2, "a", 2, 'sheepfold_http_requests_total{method="GET",status="200"} 3\n'),  # restarted (new pid)
        _sample(3, "a", 2, 'sheepfold_http_requests_total{method="GET",status="200"} 23\n'),
    ]
    assert increase(samples, "sheepfold_http_requests_total", status="200") == 40 + 20


def test_moves_to_a_fallback_are_counted_and_the_overload_scenario_allows_none() -> None:
    # The kernel labels a move with the adapter calls went to; /health names each capability's configured backend.
    health = {"capabilities": {"cache": {"configured": "redis", "active": "redis"}}}

    def sample(time: float, instance: str, pid: int, to_memory: int | None, to_redis: int | None) -> Sample:
        text = 'sheepfold_http_requests_total{method="GET",status="200"} 1\n'
        if to_memory is not None:
            text += f'sheepfold_fallback_switches_total{{capability="cache",to="memory"}} {to_memory}\n'
        if to_redis is not None:
            text += f'sheepfold_fallback_switches_total{{capability="cache",to="redis"}} {to_redis}\n'
        return Sample(time, instance, pid, None, parse_metrics(text), health)

    samples = [
        sample(0, "a", 1, None, None),  # a labelled counter is exported only once first counted
        sample(1, "a", 1, 1, None),
        sample(2, "a", 1, 2, 1),
        sample(2, "b", 7, None, None),
        sample(3, "b", 7, 1, 1),
    ]
    assert fallback_switches(samples) == 3  # moves back to the backend are not outages
    scenario = read_scenario(SCENARIOS / "overload.toml")
    assert scenario.checks.max_switches == 0 and any(event.kind == "cpu-hog" for event in scenario.chaos)


def test_a_histogram_quantile_interpolates_inside_its_bucket() -> None:
    def histogram(fast: int, slow: int) -> str:
        return (
            f'h_bucket{{le="0.1"}} {fast}\nh_bucket{{le="0.5"}} {fast + slow}\nh_bucket{{le="+Inf"}} {fast + slow}\n'
            f"h_count {fast + slow}\nh_sum 0\n"
        )

    samples = [_sample(0, "a", 1, histogram(0, 0)), _sample(1, "a", 1, histogram(90, 10))]
    # 95 of 100: halfway through the 10 observations between 0.1 and 0.5
    assert histogram_quantile(samples, "h", 0.95) == pytest.approx(0.3)


def test_the_expected_metrics_say_when_the_platform_offers_no_time_weighted_pool_use() -> None:
    text = (
        'sheepfold_http_requests_total{method="GET",status="200"} 0\n'
        'sheepfold_http_requests_total{method="GET",status="500"} 0\n'
        "sheepfold_database_pool_use_percent 40\n"
    )
    later = text.replace('status="200"} 0', 'status="200"} 999').replace('status="500"} 0', 'status="500"} 1')
    rows = {row.goal: row for row in expected_metrics([_sample(0, "a", 1, text), _sample(1, "a", 1, later)])}
    assert rows["error rate < 0.1 %"].met is False  # 1 of 1,000 is not below 0.1 %
    pool = rows["DB pool utilisation < 80 % (time-weighted)"]
    assert pool.met is None and pool.measured.startswith("missing")


def test_the_committed_ci_scenario_demands_zero_and_includes_a_redis_kill_within_two_minutes() -> None:
    scenario = read_scenario(SCENARIOS / "ci.toml")
    assert (scenario.checks.max_5xx, scenario.checks.max_anonymous) == (0, 0)
    assert any(event.kind == "redis-kill" for event in scenario.chaos)
    assert scenario.load_seconds * (2 if scenario.compare_bare else 1) <= 90  # the rest of 2 min: start-up


def test_every_committed_scenario_reads_and_an_unknown_chaos_kind_is_refused(tmp_path: Path) -> None:
    for path in SCENARIOS.glob("*.toml"):
        read_scenario(path)
    broken = tmp_path / "broken.toml"
    broken.write_text((SCENARIOS / "ci.toml").read_text().replace('"redis-kill"', '"redis-nap"'))
    with pytest.raises(ValueError, match="redis-nap"):
        read_scenario(broken)


def test_the_uris_every_connection_walks_have_the_scenarios_mix_of_routes_and_users(tmp_path: Path) -> None:
    scenario = read_scenario(SCENARIOS / "ci.toml")  # 30 requests per connection: 90/7/3, 90 % signed in
    users = [SignedIn(f"user-{number}", f"cookie-{number}") for number in range(scenario.load.users)]
    uris = tmp_path / "uris.txt"
    write_uris(uris, "http://127.0.0.1:1", scenario, Side("sheepfold", [], None, users=users))  # type: ignore[arg-type]
    lines = uris.read_text().split()
    routes = [line.split("?")[0].removeprefix("http://127.0.0.1:1") for line in lines]
    assert len(lines) == scenario.load.rate * scenario.load.duration
    assert (routes.count("/fleet/work"), routes.count("/fleet/db"), routes.count("/fleet/job")) == (27, 2, 1)
    signed_in = [line for line in lines if "?u=" in line]
    assert len(signed_in) == 27 and {line.split("u=")[1].split("&")[0] for line in signed_in} == {u.user for u in users}


def test_profile_samples_count_for_the_component_of_their_innermost_frame(tmp_path: Path) -> None:
    site = "/venv/lib/python3.11/site-packages"
    raw = tmp_path / "profile-sheepfold.txt"
    raw.write_text(
        f"run (uvicorn/server.py:1);__call__ ({site}/blacksheep/server/application.py:9);"
        f"hit (/repo/plugin-ratelimit/src/sheepfold_ratelimit/middleware.py:40) 30\n"
        f"run (uvicorn/server.py:1);read ({site}/redis/asyncio/connection.py:7) 50\n"
        f"run ({site}/uvicorn/server.py:1);dispatch (/repo/kernel/src/sheepfold/observer.py:3) 15\n"
        "select (/usr/lib/python3.11/selectors.py:468) 5\n"
    )
    profile = read_profile(raw)
    assert profile.samples == 100
    assert profile.by_component == {
        "sheepfold rate limiting": 30,
        "redis-py": 50,
        "sheepfold kernel": 15,
        OTHER: 5,
    }
    assert profile.share("redis-py") == 0.5 and profile.share("arq") == 0.0


def test_profiling_is_on_in_the_scenarios_that_report_server_cpu() -> None:
    assert all(read_scenario(SCENARIOS / f"{name}.toml").profile for name in ("ci", "standard", "bar"))
