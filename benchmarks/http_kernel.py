"""Requests/s of one plain-text route: bare BlackSheep against sheepfold with its built-in plugins.

Both apps run under the same uvicorn (uvloop, httptools, one process) and are
loaded by wrk on loopback, interleaved over several rounds. Goal: sheepfold
>= 0.85 x bare BlackSheep.

    .venv/bin/python benchmarks/http_kernel.py [--seconds 5] [--rounds 3] [--connections 64]
"""

from __future__ import annotations

import argparse

from harness import compare, serve, wrk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()

    with (
        serve("benchmarks.apps.plain_text:bare", factory=True) as bare_url,
        serve("benchmarks.apps.plain_text:platform", factory=True, env={"SHEEPFOLD_ENV": "production"}) as platform_url,
    ):
        for url in (bare_url, platform_url):  # warm up
            wrk(url + "/plain", seconds=1, connections=args.connections)
        results = compare(
            args.rounds,
            {
                "bare BlackSheep": lambda: wrk(bare_url + "/plain", seconds=args.seconds, connections=args.connections),
                "sheepfold": lambda: wrk(platform_url + "/plain", seconds=args.seconds, connections=args.connections),
            },
        )
    for name, rps in results.items():
        print(f"{name:<16} {rps:>10,.0f} requests/s")
    ratio = results.ratio("sheepfold", "bare BlackSheep")
    print(f"ratio sheepfold / bare BlackSheep: {ratio:.3f} (goal >= 0.85)")


if __name__ == "__main__":
    main()
