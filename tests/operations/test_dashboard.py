"""The committed Grafana dashboard is its generator's output, and shows the operator console's panels."""

from __future__ import annotations

import json

from deploy.grafana.dashboard import OUTPUT, dashboard_json


def test_the_committed_dashboard_is_the_generators_output():
    assert OUTPUT.read_text() == dashboard_json(), (
        "run `make dashboard`, commit deploy/grafana/sheepfold-dashboard.json"
    )


def test_the_dashboard_has_the_consoles_panels_with_unique_ids():
    board = json.loads(OUTPUT.read_text())
    titles = {panel["title"] for panel in board["panels"]}
    assert {
        "Capability phase",
        "Requests per second",
        "Error rate",
        "Latency p95",
        "Redis latency",
        "Database pool use",
        "WebSockets",
        "Jobs per queue",
        "Queue time",
        "Rate-limit decisions",
        "Realtime publishes and deliveries",
    } <= titles
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    pool = next(panel for panel in board["panels"] if panel["title"] == "Database pool use")
    steps = pool["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [step["value"] for step in steps] == [None, 80.0, 95.0]
