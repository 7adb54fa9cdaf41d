"""The lock-free tallies export what prometheus_client's own metrics would for the same events."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from sheepfold.tally import TallyCounter, TallyHistogram


def _samples(registry: CollectorRegistry) -> set[str]:
    """The exposition's sample lines, without comments and the ``_created`` series only prometheus_client has."""
    lines = generate_latest(registry).decode().splitlines()
    return {line for line in lines if line and not line.startswith("#") and "_created" not in line}


def test_counter_exports_like_a_prometheus_counter() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    tally = TallyCounter("requests", "Requests.", ["method", "status"], ours)
    counter = Counter("requests", "Requests.", ["method", "status"], registry=theirs)
    for method, status in [("GET", 200), ("GET", 200), ("POST", 404), ("GET", 500)]:
        tally.inc(method, status)
        counter.labels(method, str(status)).inc()
    assert _samples(ours) == _samples(theirs)
    assert tally.value("GET", 200) == 2
    assert tally.value("PUT", 200) == 0


def test_histogram_exports_like_a_prometheus_histogram() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    tally = TallyHistogram("latency", "Latency.", ["method"], ours)
    histogram = Histogram("latency", "Latency.", ["method"], registry=theirs)
    # Amounts on bucket bounds, between them and past the last finite one.
    for method, amount in [("GET", 0.005), ("GET", 0.0051), ("GET", 0.3), ("POST", 12.0), ("GET", 0.0)]:
        tally.observe(amount, method)
        histogram.labels(method).observe(amount)
    assert _samples(ours) == _samples(theirs)


def test_custom_buckets_gain_an_infinite_bound() -> None:
    registry = CollectorRegistry()
    tally = TallyHistogram("sizes", "Sizes.", [], registry, buckets=[10, 100])
    for amount in (5, 50, 500):
        tally.observe(amount)
    text = generate_latest(registry).decode()
    assert 'sizes_bucket{le="10.0"} 1.0' in text
    assert 'sizes_bucket{le="100.0"} 2.0' in text
    assert 'sizes_bucket{le="+Inf"} 3.0' in text
    assert "sizes_sum 555.0" in text


def test_counter_counts_are_kept_by_label_values() -> None:
    tally = TallyCounter("decisions", "Decisions.", ["policy", "decision"], CollectorRegistry())
    tally.inc("api", "allowed")
    tally.inc("api", "allowed")
    tally.inc("login", "limited")
    assert tally.counts == {("api", "allowed"): 2, ("login", "limited"): 1}
    assert tally.value("api", "allowed") == 2 and tally.value("api", "limited") == 0
