"""``python -m benchmarks.fleet [SCENARIO] [--out FOLDER]``: run a scenario, write its report, check it.

Exit status 0 when every check of the scenario holds, 1 when one fails,
2 when a tool is missing (the message names the apt command).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.fleet.analysis import fallback_switches
from benchmarks.fleet.chaos import ChaosSchedule
from benchmarks.fleet.load import h2load_summary, read_proxied, read_sent, start_load
from benchmarks.fleet.nginx import APT_PACKAGES, missing_tools
from benchmarks.fleet.profile import Profiler
from benchmarks.fleet.report import SideResult, comparison, write_report
from benchmarks.fleet.sampler import Sampler, tcp_connections_opened, write_samples
from benchmarks.fleet.scenario import Scenario, read_scenario
from benchmarks.fleet.services import PostgresServer, RedisServer
from benchmarks.fleet.sides import Side, bare_side, sheepfold_side, sign_in_bare, sign_in_sheepfold

HERE = Path(__file__).resolve().parent
#: Seconds of samples before the load starts (the counters' baseline) and after it ends
#: (nginx flushes its log each second).
_SETTLE = 2.0


def run_side(
    folder: Path,
    scenario: Scenario,
    side: Side,
    sign_in: Callable[[], None],
    redis_server: RedisServer,
    postgres: PostgresServer,
) -> SideResult:
    print(f"[fleet] {side.name}: starting {len(side.instances)} instances behind nginx", flush=True)
    side.start()
    try:
        sign_in()
        sampler = Sampler(side, platform=side.name == "sheepfold")
        sampler.start()
        time.sleep(_SETTLE)
        origin = time.time()
        print(f"[fleet] {side.name}: load for {scenario.load_seconds} s", flush=True)
        opened_before = tcp_connections_opened()
        load = start_load(folder, scenario, side)
        profiled = side.instances[0].pid
        profiler = (
            Profiler(folder, side.name, profiled, scenario.load_seconds) if scenario.profile and profiled else None
        )
        if profiler is not None:
            profiler.start()
        chaos = ChaosSchedule(scenario.chaos, side, redis_server, postgres, folder)
        chaos.start(origin)
        load.wait(timeout=scenario.load_seconds + 300)
        chaos.join()
        connections_opened = tcp_connections_opened() - opened_before
        profile = profiler.stop() if profiler is not None else None
        time.sleep(_SETTLE)
        sampler.stop()
        write_samples(folder / f"samples-{side.name}.jsonl", sampler.samples)
    finally:
        side.stop()
    return SideResult(
        side.name,
        origin,
        read_sent(folder / f"h2load-{side.name}.tsv"),
        read_proxied(side.nginx.access_log),
        sampler.samples,
        chaos.happened,
        h2load_summary(folder / f"h2load-{side.name}.txt"),
        connections_opened,
        profile,
    )


def failed_checks(scenario: Scenario, result: SideResult) -> list[str]:
    checks = scenario.checks
    failures = []
    if checks.max_5xx is not None and result.server_errors > checks.max_5xx:
        failures.append(f"{result.server_errors} answers were 5xx or missing (at most {checks.max_5xx} allowed)")
    identity = result.identity
    wrong = identity.anonymous + identity.other_user
    if checks.max_anonymous is not None and wrong > checks.max_anonymous:
        failures.append(
            f"{identity.anonymous} signed-in requests were served as anonymous and {identity.other_user} as another "
            f"user (at most {checks.max_anonymous} allowed)"
        )
    switches = fallback_switches(result.samples)
    if checks.max_switches is not None and switches > checks.max_switches:
        failures.append(f"capabilities moved to their fallback {switches:.0f} times (at most {checks.max_switches})")
    p95_ms = result.latency(0.95) * 1000
    if checks.max_p95_ms is not None and not p95_ms <= checks.max_p95_ms:
        failures.append(f"client-side p95 was {p95_ms:.1f} ms (at most {checks.max_p95_ms:g} ms)")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet", description=__doc__)
    parser.add_argument("scenario", nargs="?", type=Path, default=HERE / "scenarios" / "standard.toml")
    parser.add_argument("--out", type=Path, help="run folder (default: benchmarks/fleet/runs/<time>-<scenario>)")
    arguments = parser.parse_args(argv)
    missing = missing_tools()
    if missing:
        print(f"[fleet] {', '.join(missing)} not installed: apt-get install {APT_PACKAGES}", file=sys.stderr)
        return 2
    scenario = read_scenario(arguments.scenario)
    folder = (arguments.out or HERE / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario.name}").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    redis_server, postgres = RedisServer(folder), PostgresServer(folder)
    redis_server.start()
    try:
        postgres.start()
        ours = sheepfold_side(folder, scenario, redis_server, postgres)
        result = run_side(
            folder, scenario, ours, lambda: sign_in_sheepfold(ours, scenario.load.users), redis_server, postgres
        )
        bare = None
        if scenario.compare_bare:
            theirs = bare_side(folder, scenario, redis_server, postgres)
            bare = run_side(
                folder,
                scenario,
                theirs,
                lambda: sign_in_bare(theirs, scenario.load.users, redis_server.url),
                redis_server,
                postgres,
            )
    finally:
        postgres.stop()
        redis_server.stop()
    failures = failed_checks(scenario, result)
    report = write_report(folder, scenario, result, bare, failures)
    print(
        f"[fleet] {len(result.answered)} answered, {result.server_errors} 5xx or no answer, "
        f"{result.identity.anonymous} signed-in served anonymous; client p95 {result.latency(0.95) * 1000:.1f} ms"
    )
    if bare is not None:
        for measure, sheepfold, other, ratio in comparison(result, bare):
            print(f"[fleet] {measure}: sheepfold {sheepfold}, bare {other}, bare ÷ sheepfold {ratio}")
    print(f"[fleet] report: {report} ({time.monotonic() - began:.0f} s)")
    for failure in failures:
        print(f"[fleet] FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
