"""Prometheus metrics of the realtime plugin, in the app's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class RealtimeMetrics:
    """Sockets, deliveries, drops, publishes by outcome, resyncs and the broker link of one instance."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sockets = Gauge(
            "sheepfold_realtime_sockets",
            "WebSockets open on this instance (all its worker processes).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.deliveries = Counter(
            "sheepfold_realtime_deliveries", "Events queued to a local socket.", registry=registry
        )
        self.dropped = Counter(
            "sheepfold_realtime_dropped",
            "Events dropped because a socket's backlog was full (slow consumer).",
            registry=registry,
        )
        self.publishes = Counter(
            "sheepfold_realtime_publishes",
            "Events published on this instance, by outcome: delivered (some socket or instance received it), "
            "no_receiver (no socket anywhere), broker_down (other instances could not be reached).",
            ["outcome"],
            registry=registry,
        )
        self.resyncs = Counter(
            "sheepfold_realtime_resyncs",
            "resync messages sent to sockets, by reason (reconnected, gap, dropped).",
            ["reason"],
            registry=registry,
        )
        self.refused = Counter(
            "sheepfold_realtime_refused_subscriptions",
            "Subscriptions refused by a channel's rule (the socket was closed with 1008).",
            registry=registry,
        )
        self.bad_messages = Counter(
            "sheepfold_realtime_bad_messages",
            "Client messages answered with an error frame, by code (bad_message, too_large); the socket stays open.",
            ["code"],
            registry=registry,
        )
        self.closed = Counter(
            "sheepfold_realtime_closed_by_server",
            "Sockets the server closed, by reason (heartbeat, policy, slow, shutdown, error).",
            ["reason"],
            registry=registry,
        )
        self.linked = Gauge(
            "sheepfold_realtime_broker_linked",
            "1 while this instance's subscriptions are active in the broker (in every worker process), "
            "0 during an outage.",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self.linked.set(1)
