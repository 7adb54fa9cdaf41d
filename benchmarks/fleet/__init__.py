"""The fleet harness: N ``sheepfold serve`` instances behind nginx, open-loop load, chaos, a report.

``make fleet`` (or ``python -m benchmarks.fleet SCENARIO``) runs a scenario
file (``scenarios/*.toml``) and writes its report to a run folder; see the
README section "Fleet harness" and docs/operations.md "Scaling out".
"""
