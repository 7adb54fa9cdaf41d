"""Prometheus counters and histograms for the per-request path, tallied without a lock.

A ``prometheus_client`` metric takes a lock on every increment so that
threads may share it; on a request that does little else, two or three of
them are a measurable part of the kernel's cost. sheepfold's requests are
handled on one event loop thread, so a plain integer is enough: these
collectors keep plain tallies and turn them into metric families only when
``/metrics`` is scraped. Use them from the event loop only; anything counted
from other threads belongs in a ``prometheus_client`` metric.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable, Iterable, Iterator, Sequence

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString


class TallyCounter(Collector):
    """A labelled counter: ``inc(*label_values)``, exported as ``<name>_total``.

    Label values may be any objects (an ``int`` status code, say); they are
    turned into strings when the metric is collected, not per increment.
    """

    def __init__(self, name: str, documentation: str, labels: Sequence[str], registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self._counts: dict[tuple[Hashable, ...], int] = {}
        registry.register(self)

    def inc(self, *label_values: Hashable) -> None:
        """Count one event of ``label_values`` (one per label, in order)."""
        counts = self._counts
        counts[label_values] = counts.get(label_values, 0) + 1

    def value(self, *label_values: Hashable) -> int:
        """How many events of ``label_values`` were counted."""
        return self._counts.get(label_values, 0)

    def counts(self) -> dict[tuple[Hashable, ...], int]:
        """Every label values' count so far (a copy): for readers that sum or compare them between readings."""
        return dict(self._counts)

    def describe(self) -> Iterable[CounterMetricFamily]:
        return [CounterMetricFamily(self.name, self.documentation, labels=self.labels)]

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for label_values, count in sorted(self._counts.items(), key=_as_text):
            family.add_metric([str(value) for value in label_values], count)
        yield family


class TallyHistogram(Collector):
    """A labelled histogram: ``observe(amount, *label_values)``, with Prometheus' default buckets."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str],
        registry: CollectorRegistry,
        buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self.bounds = [float(bound) for bound in buckets]
        if self.bounds[-1] != float("inf"):
            self.bounds.append(float("inf"))
        # Per label values: the count in each bucket (not cumulative), then the sum of the amounts.
        self._series: dict[tuple[Hashable, ...], list[float]] = {}
        registry.register(self)

    def observe(self, amount: float, *label_values: Hashable) -> None:
        """Record one ``amount`` (seconds, bytes...) under ``label_values``."""
        series = self._series.get(label_values)
        if series is None:
            series = self._series[label_values] = [0] * (len(self.bounds) + 1)
        series[bisect_left(self.bounds, amount)] += 1
        series[-1] += amount

    def bucket_counts(self) -> list[int]:
        """Observations per bucket (not cumulative) over every label values, in the order of :attr:`bounds`.

        A reader estimates a quantile from two readings' difference (``sheepfold.fleet`` does, for the p95).
        """
        totals = [0] * len(self.bounds)
        for series in self._series.values():
            for index in range(len(totals)):
                totals[index] += int(series[index])
        return totals

    def describe(self) -> Iterable[HistogramMetricFamily]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labels)]

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for label_values, series in sorted(self._series.items(), key=_as_text):
            cumulative: float = 0
            buckets = []
            for bound, count in zip(self.bounds, series, strict=False):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))  # type: ignore[no-untyped-call]  # unannotated in prometheus_client
            family.add_metric([str(value) for value in label_values], buckets, series[-1])
        yield family


def _as_text(item: tuple[tuple[Hashable, ...], object]) -> list[str]:
    return [str(value) for value in item[0]]
