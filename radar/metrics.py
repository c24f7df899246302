"""Prometheus metrics of the radar (DESIGN §6): per stream, and about the radar itself.

All names start with ``radar_``, use base units, counters end in ``_total``, and labels take only
bounded values (stream names are bounded by ``max_streams``; reasons and kinds are fixed sets).
Each :class:`RadarMetrics` has its own registry, so several radars can live in one process
(tests) and ``/metrics`` exposes exactly one radar.

Level gauge mapping: ``radar_stream_level`` is 0 calm, 1 watch, 2 warning, 3 crisis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

#: No ``*_created`` series: they double the counters' series and no dashboard reads them.
disable_created_metrics()

LEVEL_VALUES = {"calm": 0, "watch": 1, "warning": 2, "crisis": 3}


@dataclass(frozen=True, slots=True)
class StreamSample:
    """What ``/metrics`` shows of one stream: its last closed bucket and running totals."""

    stream: str
    mentions_total: float
    negative_total: float
    bucket_mentions: float
    expected: float
    expected_lower: float
    expected_upper: float
    negative_share: float
    negative_share_baseline: float
    anomaly_score: float
    surprise_mentions: float
    surprise_negative: float
    level: int
    learning: bool
    silent: bool


# The one-label per-stream series: (family, name, help, value of a sample).
STREAM_SERIES: tuple[
    tuple[type[CounterMetricFamily | GaugeMetricFamily], str, str, Callable[[StreamSample], float]], ...
] = (
    (
        CounterMetricFamily,
        "radar_stream_mentions",
        "Mentions per stream (closed buckets).",
        lambda x: x.mentions_total,
    ),
    (
        CounterMetricFamily,
        "radar_stream_negative_mentions",
        "Negative mentions per stream (closed buckets).",
        lambda x: x.negative_total,
    ),
    (
        GaugeMetricFamily,
        "radar_stream_bucket_mentions",
        "Mentions in the last closed bucket.",
        lambda x: x.bucket_mentions,
    ),
    (
        GaugeMetricFamily,
        "radar_stream_expected_mentions",
        "Expected mentions per bucket (seasonal baseline).",
        lambda x: x.expected,
    ),
    (
        GaugeMetricFamily,
        "radar_stream_expected_mentions_lower",
        "Lower edge of the normal band per bucket.",
        lambda x: x.expected_lower,
    ),
    (
        GaugeMetricFamily,
        "radar_stream_expected_mentions_upper",
        "Upper edge of the normal band per bucket.",
        lambda x: x.expected_upper,
    ),
    (
        GaugeMetricFamily,
        "radar_stream_negative_share_ratio",
        "Negative share of mentions in the last bucket.",
        lambda x: x.negative_share,
    ),
    (
        GaugeMetricFamily,
        "radar_stream_negative_share_baseline_ratio",
        "Usual negative share of the stream.",
        lambda x: x.negative_share_baseline,
    ),
    (
        GaugeMetricFamily,
        "radar_stream_level",
        "Current level: 0 calm, 1 watch, 2 warning, 3 crisis.",
        lambda x: x.level,
    ),
    (
        GaugeMetricFamily,
        "radar_stream_learning",
        "1 while the stream is still learning its baseline.",
        lambda x: float(x.learning),
    ),
    (
        GaugeMetricFamily,
        "radar_stream_silent",
        "1 while the stream's source is silent.",
        lambda x: float(x.silent),
    ),
)


class StreamCollector(Collector):
    """The per-stream series, built from :class:`StreamSample` s when Prometheus scrapes.

    Nothing is written per bucket close (thousands of streams close a bucket every minute);
    the pipeline hands over a function returning the current samples.
    """

    def __init__(self) -> None:
        self.samples: Callable[[], Iterable[StreamSample]] = lambda: ()

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the families depend on the streams; describe nothing up front

    def collect(self) -> Iterator[Metric]:
        samples = list(self.samples())
        for kind, name, doc, value in STREAM_SERIES:
            family = kind(name, doc, labels=["stream"])
            for x in samples:
                family.add_metric([x.stream], value(x))
            yield family
        score = GaugeMetricFamily(
            "radar_stream_anomaly_score", "Anomaly score in [0, 1] per signal.", labels=["stream", "signal"]
        )
        surprise = GaugeMetricFamily(
            "radar_stream_surprise", "-log10 of the tail probability per signal.", labels=["stream", "signal"]
        )
        for x in samples:
            score.add_metric([x.stream, "crisis"], x.anomaly_score)
            surprise.add_metric([x.stream, "mentions"], x.surprise_mentions)
            surprise.add_metric([x.stream, "negative"], x.surprise_negative)
        yield score
        yield surprise

    def text(self) -> bytes:
        """The same series as :meth:`collect`, in the text exposition format, written directly.

        With a thousand streams these are 14,000 series; building metric families sample by sample
        and formatting them through ``generate_latest`` takes several times as long as this.
        """
        samples = list(self.samples())
        labels = [_label(x.stream) for x in samples]
        out: list[str] = []
        for kind, name, doc, value in STREAM_SERIES:
            counter = kind is CounterMetricFamily
            full = f"{name}_total" if counter else name
            out.append(f"# HELP {full} {doc}\n# TYPE {full} {'counter' if counter else 'gauge'}\n")
            out.extend(
                f"{full}{{{lab}}} {_number(value(x))}\n" for x, lab in zip(samples, labels, strict=True)
            )
        out.append(
            "# HELP radar_stream_anomaly_score Anomaly score in [0, 1] per signal.\n"
            "# TYPE radar_stream_anomaly_score gauge\n"
        )
        out.extend(
            f'radar_stream_anomaly_score{{signal="crisis",{lab}}} {_number(x.anomaly_score)}\n'
            for x, lab in zip(samples, labels, strict=True)
        )
        out.append(
            "# HELP radar_stream_surprise -log10 of the tail probability per signal.\n"
            "# TYPE radar_stream_surprise gauge\n"
        )
        for x, lab in zip(samples, labels, strict=True):
            out.append(f'radar_stream_surprise{{signal="mentions",{lab}}} {_number(x.surprise_mentions)}\n')
            out.append(f'radar_stream_surprise{{signal="negative",{lab}}} {_number(x.surprise_negative)}\n')
        return "".join(out).encode("utf-8")


@lru_cache(maxsize=200_000)
def _label(stream: str) -> str:
    """``stream="NAME"`` with the exposition format's escaping."""
    escaped = stream.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'stream="{escaped}"'


def _number(value: float) -> str:
    """A sample value as Prometheus writes it (``1.0``, ``+Inf``, ``NaN``)."""
    return floatToGoString(value)


#: Per-source series: (family, name, help, value of a health record).
SOURCE_SERIES: tuple[
    tuple[type[CounterMetricFamily | GaugeMetricFamily], str, str, Callable[[Any], float]], ...
] = (
    (
        GaugeMetricFamily,
        "radar_source_connected",
        "1 while the live source is connected.",
        lambda h: float(h.connected),
    ),
    (
        GaugeMetricFamily,
        "radar_source_silent",
        "1 while the source is silent (quiet or disconnected too long).",
        lambda h: float(h.silent),
    ),
    (
        CounterMetricFamily,
        "radar_source_events",
        "Events the source received (matched or not).",
        lambda h: h.events,
    ),
    (
        CounterMetricFamily,
        "radar_source_mentions",
        "Mentions the source handed to the radar.",
        lambda h: h.mentions,
    ),
    (
        CounterMetricFamily,
        "radar_source_malformed_events",
        "Malformed events skipped.",
        lambda h: h.malformed,
    ),
    (CounterMetricFamily, "radar_source_errors", "Connection failures.", lambda h: h.errors),
    (
        CounterMetricFamily,
        "radar_source_reconnects",
        "Reconnections after a failure.",
        lambda h: h.reconnects,
    ),
    (
        GaugeMetricFamily,
        "radar_source_last_event_timestamp_seconds",
        "When the source last received an event.",
        lambda h: h.last_event_at or 0.0,
    ),
)


class SourceCollector(Collector):
    """The live sources' health, read when Prometheus scrapes."""

    def __init__(self) -> None:
        self.health: Callable[[], Iterable[Any]] = lambda: ()

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        records = list(self.health())
        for kind, name, doc, value in SOURCE_SERIES:
            family = kind(name, doc, labels=["source"])
            for h in records:
                family.add_metric([h.name], value(h))
            yield family


class RadarMetrics:
    """The radar's metrics, registered in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        # -- ingest -----------------------------------------------------------------------------
        self.ingested = Counter(
            "radar_mentions_ingested_total",
            "Mentions accepted (after validation and de-duplication).",
            ["source"],
            registry=r,
        )
        self.rejected = Counter(
            "radar_mentions_rejected_total", "Records rejected, by reason.", ["reason"], registry=r
        )
        self.duplicates = Counter(
            "radar_mentions_duplicate_total", "Mentions whose id was seen before.", registry=r
        )
        self.unmatched = Counter(
            "radar_mentions_unmatched_total", "Accepted mentions that matched no stream.", registry=r
        )
        self.late = Counter(
            "radar_mentions_late_total",
            "Mentions that arrived after their bucket closed (kept in the journal, not in the buckets).",
            ["stream"],
            registry=r,
        )
        self.watermark = Gauge(
            "radar_watermark_timestamp_seconds", "Event time up to which buckets are closed.", registry=r
        )
        self.lag = Gauge(
            "radar_ingest_lag_seconds", "Wall clock minus the newest event time seen (live mode).", registry=r
        )
        self.bucket_close_delay = Histogram(
            "radar_bucket_close_delay_seconds",
            "Wall-clock delay between a bucket's end and its closing.",
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
            registry=r,
        )
        self.journal_seq = Gauge(
            "radar_journal_last_sequence", "Sequence number of the last journaled mention.", registry=r
        )
        self.checkpoint_age = Gauge(
            "radar_checkpoint_age_seconds", "Seconds since the last checkpoint was written.", registry=r
        )
        self.checkpoint_time = Gauge(
            "radar_checkpoint_timestamp_seconds", "When the last checkpoint was written.", registry=r
        )
        # -- per stream: read from the pipeline at scrape time (see StreamCollector) ------------
        # not in the registry: exposition() writes these series itself (see StreamCollector.text)
        self.stream_collector = StreamCollector()
        self.source_collector = SourceCollector()
        r.register(self.source_collector)
        self.open_incidents = Gauge(
            "radar_open_incidents", "Open incidents per stream and kind.", ["stream", "kind"], registry=r
        )
        self.incidents = Counter(
            "radar_incidents_opened_total",
            "Incidents opened per stream and kind.",
            ["stream", "kind"],
            registry=r,
        )
        self.level_changes = Counter(
            "radar_level_changes_total",
            "Incident level changes per stream and level.",
            ["stream", "level"],
            registry=r,
        )
        self.streams = Gauge("radar_streams", "Streams known to the radar.", registry=r)
        # -- notifications ----------------------------------------------------------------------
        self.notifications_sent = Counter(
            "radar_notifications_sent_total",
            "Notifications that reached the notifier's service, by notifier and what (parent, update, "
            "reply, chart).",
            ["notifier", "what"],
            registry=r,
        )
        self.notifications_failed = Counter(
            "radar_notifications_failed_total",
            "Failed notification calls by notifier and reason (rate_limited, server_error, connection, "
            "or the service's error code).",
            ["notifier", "reason"],
            registry=r,
        )
        self.notification_latency = Histogram(
            "radar_notification_latency_seconds",
            "From the decision to notify to the notifier's service accepting it.",
            ["notifier"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
            registry=r,
        )
        self.outbox_depth = Gauge(
            "radar_outbox_depth", "Notifications waiting in the outbox.", ["notifier"], registry=r
        )
        self.outbox_oldest_age = Gauge(
            "radar_outbox_oldest_age_seconds",
            "Age of the oldest notification waiting in the outbox (0 when none waits).",
            ["notifier"],
            registry=r,
        )
        self.notifier_halted = Gauge(
            "radar_notifier_halted",
            "1 while a notifier has stopped delivering (Slack refused the token: restart with a new one).",
            ["notifier"],
            registry=r,
        )
        self.slack_interactions = Counter(
            "radar_slack_interactions_total",
            "Slack button clicks received, by outcome (accepted, bad_signature, stale, bad_payload, "
            "unknown_incident, not_configured).",
            ["outcome"],
            registry=r,
        )

    def delivery(self, notifier: str) -> DeliveryCounter:
        """An observer that counts one notifier's deliveries here."""
        return DeliveryCounter(self, notifier)

    def exposition(self) -> bytes:
        """The text exposition format of every metric (the registry's, then the per-stream series)."""
        return generate_latest(self.registry) + self.stream_collector.text()


class DeliveryCounter:
    """Counts one notifier's deliveries and failures (the ``DeliveryObserver`` of ``alerts.delivery``)."""

    def __init__(self, metrics: RadarMetrics, notifier: str) -> None:
        self.metrics, self.notifier = metrics, notifier

    def sent(self, what: str, latency: float, incident_id: str = "", key: str = "") -> None:
        """One delivery, ``latency`` seconds after it was queued."""
        self.metrics.notifications_sent.labels(self.notifier, what).inc()
        self.metrics.notification_latency.labels(self.notifier).observe(latency)

    def failed(self, reason: str) -> None:
        """One failed call."""
        self.metrics.notifications_failed.labels(self.notifier, reason).inc()
