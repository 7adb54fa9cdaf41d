"""The ``realtime`` section of the operator console, read from the hub and the plugin's own counters."""

from __future__ import annotations

from prometheus_client import Counter

from sheepfold.statistics import Cell, Statistics
from sheepfold_realtime.hub import RealtimeHub

#: Rows of the console's table of the busiest channels.
BUSIEST_CHANNELS = 10
PUBLISH_OUTCOMES = ("delivered", "no_receiver", "broker_down")
RESYNC_REASONS = ("gap", "reconnected", "dropped")


def realtime_statistics(hub: RealtimeHub) -> Statistics:
    """Sockets, channels and subscriptions now; what was published, delivered, dropped and resynced so far.

    Counters (this instance's, since it started): ``published`` and
    ``published.<outcome>`` (delivered, no_receiver, broker_down),
    ``delivered`` (events queued to local sockets), ``dropped`` (slow
    consumers), ``resyncs.<reason>`` (gap, reconnected, dropped),
    ``refused_subscriptions``. Gauges: ``sockets``, ``channels``,
    ``subscriptions``, ``broker_linked``. Table ``busiest_channels``.
    One pass over the channels; no broker call.
    """
    metrics = hub.metrics
    published = _by_label(metrics.publishes)
    resyncs = _by_label(metrics.resyncs)
    counters: dict[str, float] = {
        "published": sum(published.values()),
        **{
            f"published.{outcome}": published.get(outcome, 0.0)
            for outcome in ("delivered", "no_receiver", "broker_down")
        },
        "delivered": _total(metrics.deliveries),
        "dropped": _total(metrics.dropped),
        **{f"resyncs.{reason}": resyncs.get(reason, 0.0) for reason in RESYNC_REASONS},
        "refused_subscriptions": _total(metrics.refused),
    }
    gauges: dict[str, float] = {
        "sockets": len(hub.sockets),
        "channels": hub.channel_count(),
        "subscriptions": hub.subscription_count(),
        "broker_linked": 1 if hub.linked else 0,
    }
    busiest: list[dict[str, Cell]] = [
        {"channel": channel, "sockets": sockets, "events": events}
        for channel, sockets, events in hub.busiest_channels(BUSIEST_CHANNELS)
    ]
    return Statistics("realtime", counters=counters, gauges=gauges, tables={"busiest_channels": busiest})


def _by_label(counter: Counter) -> dict[str, float]:
    """A counter of one label: its value per label value (``collect`` is prometheus_client's public reading)."""
    return {
        next(iter(sample.labels.values())): sample.value
        for family in counter.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def _total(counter: Counter) -> float:
    return sum(
        sample.value for family in counter.collect() for sample in family.samples if sample.name.endswith("_total")
    )
