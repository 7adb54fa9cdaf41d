"""Prometheus counters and histograms for the per-request path, tallied without a lock.

A ``prometheus_client`` metric takes a lock on every increment so that
threads may share it; on a request that does little else, two or three of
them are a measurable part of the kernel's cost. sheepfold's requests are
handled on one event loop thread, so a plain integer is enough: these
collectors keep plain tallies and turn them into metric families only when
``/metrics`` is scraped. Use them from the event loop only; anything counted
from other threads belongs in a ``prometheus_client`` metric.

Where worker processes share their metrics (``sheepfold.multiprocess``),
``share()`` copies the tallies into prometheus_client's files of this
process, every second or so rather than per event.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import Histogram, values
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString


class TallyCounter(Collector):
    """A labelled counter: ``inc(*label_values)``, exported as ``<name>_total``.

    Label values may be any objects (an ``int`` status code, say); they are
    turned into strings when the metric is collected, not per increment.
    Where even a call costs too much (the kernel's request middleware), add
    to :attr:`counts` directly: ``counts[(method, status)] += 1``.
    """

    def __init__(self, name: str, documentation: str, labels: Sequence[str], registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        #: The count of each tuple of label values (one per label, in order).
        self.counts: defaultdict[tuple[Hashable, ...], int] = defaultdict(int)
        self._shared: dict[tuple[Hashable, ...], Any] = {}
        registry.register(self)

    def inc(self, *label_values: Hashable) -> None:
        """Count one event of ``label_values`` (one per label, in order)."""
        self.counts[label_values] += 1

    def value(self, *label_values: Hashable) -> int:
        """How many events of ``label_values`` were counted."""
        return self.counts.get(label_values, 0)

    def share(self) -> None:
        """Copy the counts into this process's metric files (prometheus_client's multiprocess mode)."""
        for label_values, count in self.counts.items():
            shared = self._shared.get(label_values)
            if shared is None:
                shared = self._shared[label_values] = values.ValueClass(
                    "counter", self.name, f"{self.name}_total", self.labels, _texts(label_values), self.documentation
                )
            shared.set(count)

    def describe(self) -> Iterable[CounterMetricFamily]:
        return [CounterMetricFamily(self.name, self.documentation, labels=self.labels)]

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for label_values, count in sorted(self.counts.items(), key=_as_text):
            family.add_metric(_texts(label_values), count)
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
        self._shared: dict[tuple[Hashable, ...], list[Any]] = {}
        registry.register(self)

    def observe(self, amount: float, *label_values: Hashable) -> None:
        """Record one ``amount`` (seconds, bytes...) under ``label_values``."""
        series = self.series_of(*label_values)
        series[bisect_left(self.bounds, amount)] += 1
        series[-1] += amount

    def series_of(self, *label_values: Hashable) -> list[float]:
        """The series of ``label_values``: the count in each bucket of :attr:`bounds` (not cumulative), then the
        sum of the amounts. Where even a call per event costs too much (the kernel's request middleware), keep it
        and do what :meth:`observe` does inline."""
        series = self._series.get(label_values)
        if series is None:
            series = self._series[label_values] = [0] * (len(self.bounds) + 1)
        return series

    def share(self) -> None:
        """Copy each bucket's count (not cumulative, as prometheus_client keeps them) and the sums into this
        process's metric files."""
        for label_values, series in self._series.items():
            shared = self._shared.get(label_values)
            if shared is None:
                texts = _texts(label_values)
                shared = self._shared[label_values] = [
                    *(
                        values.ValueClass(
                            "histogram",
                            self.name,
                            f"{self.name}_bucket",
                            [*self.labels, "le"],
                            [*texts, floatToGoString(bound)],  # type: ignore[no-untyped-call]  # unannotated
                            self.documentation,
                        )
                        for bound in self.bounds
                    ),
                    values.ValueClass(
                        "histogram", self.name, f"{self.name}_sum", self.labels, texts, self.documentation
                    ),
                ]
            for value, amount in zip(shared, series, strict=True):
                value.set(amount)

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
            family.add_metric(_texts(label_values), buckets, series[-1])
        yield family


def _texts(label_values: tuple[Hashable, ...]) -> list[str]:
    return [str(value) for value in label_values]


def _as_text(item: tuple[tuple[Hashable, ...], object]) -> list[str]:
    return _texts(item[0])
