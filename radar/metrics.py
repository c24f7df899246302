"""Prometheus metrics of the radar (DESIGN §6): per stream, and about the radar itself.

All names start with ``radar_``, use base units, counters end in ``_total``, and labels take only
bounded values (stream names are bounded by ``max_streams``; reasons and kinds are fixed sets).
Each :class:`RadarMetrics` has its own registry, so several radars can live in one process
(tests) and ``/metrics`` exposes exactly one radar.

Level gauge mapping: ``radar_stream_level`` is 0 calm, 1 watch, 2 warning, 3 crisis.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LEVEL_VALUES = {"calm": 0, "watch": 1, "warning": 2, "crisis": 3}


@dataclass(frozen=True, slots=True)
class StreamMetrics:
    """The series of one stream, with their labels bound."""

    mentions: Counter
    negative: Counter
    bucket_mentions: Gauge
    expected: Gauge
    expected_lower: Gauge
    expected_upper: Gauge
    negative_share: Gauge
    negative_share_baseline: Gauge
    score: Gauge
    surprise_mentions: Gauge
    surprise_negative: Gauge
    learning: Gauge
    silent: Gauge


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
        # -- per stream -------------------------------------------------------------------------
        s = ["stream"]
        self.mentions = Counter(
            "radar_stream_mentions_total", "Mentions per stream (closed buckets).", s, registry=r
        )
        self.negative = Counter(
            "radar_stream_negative_mentions_total",
            "Negative mentions per stream (closed buckets).",
            s,
            registry=r,
        )
        self.bucket_mentions = Gauge(
            "radar_stream_bucket_mentions", "Mentions in the last closed bucket.", s, registry=r
        )
        self.expected = Gauge(
            "radar_stream_expected_mentions",
            "Expected mentions per bucket (seasonal baseline).",
            s,
            registry=r,
        )
        self.expected_lower = Gauge(
            "radar_stream_expected_mentions_lower", "Lower edge of the normal band per bucket.", s, registry=r
        )
        self.expected_upper = Gauge(
            "radar_stream_expected_mentions_upper", "Upper edge of the normal band per bucket.", s, registry=r
        )
        self.negative_share = Gauge(
            "radar_stream_negative_share_ratio",
            "Negative share of mentions in the last bucket.",
            s,
            registry=r,
        )
        self.negative_share_baseline = Gauge(
            "radar_stream_negative_share_baseline_ratio", "Usual negative share of the stream.", s, registry=r
        )
        self.score = Gauge(
            "radar_stream_anomaly_score",
            "Anomaly score in [0, 1] per signal.",
            ["stream", "signal"],
            registry=r,
        )
        self.surprise = Gauge(
            "radar_stream_surprise",
            "-log10 of the tail probability per signal.",
            ["stream", "signal"],
            registry=r,
        )
        self.level = Gauge(
            "radar_stream_level", "Current level: 0 calm, 1 watch, 2 warning, 3 crisis.", s, registry=r
        )
        self.learning = Gauge(
            "radar_stream_learning", "1 while the stream is still learning its baseline.", s, registry=r
        )
        self.silent = Gauge("radar_stream_silent", "1 while the stream's source is silent.", s, registry=r)
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
        self.notifications = Counter(
            "radar_notifications_total",
            "Notification attempts by notifier and outcome.",
            ["notifier", "outcome"],
            registry=r,
        )

    def for_stream(self, stream: str) -> StreamMetrics:
        """The per-stream series of ``stream``, bound once (``labels()`` is slow on hot paths)."""
        return StreamMetrics(
            mentions=self.mentions.labels(stream),
            negative=self.negative.labels(stream),
            bucket_mentions=self.bucket_mentions.labels(stream),
            expected=self.expected.labels(stream),
            expected_lower=self.expected_lower.labels(stream),
            expected_upper=self.expected_upper.labels(stream),
            negative_share=self.negative_share.labels(stream),
            negative_share_baseline=self.negative_share_baseline.labels(stream),
            score=self.score.labels(stream, "crisis"),
            surprise_mentions=self.surprise.labels(stream, "mentions"),
            surprise_negative=self.surprise.labels(stream, "negative"),
            learning=self.learning.labels(stream),
            silent=self.silent.labels(stream),
        )

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)
