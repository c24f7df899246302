"""The pipeline: mentions in, incident events out (DESIGN §2).

``match -> score sentiment -> window (event time) -> detect -> escalate``. :class:`Pipeline` is
pure: it never reads a clock nor does I/O. Mentions go in with :meth:`Pipeline.ingest`; buckets
close when :meth:`Pipeline.advance` moves the watermark (by default the newest event time minus
the allowed lateness; the live service also advances it with the wall clock for idle streams).
Every incident event goes to the ``sink`` callback (notifiers, the record) and is returned.

The whole state (windows, detectors, escalation, de-duplication) pickles, for checkpoints.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from alerts.chart import Point, Series
from alerts.escalation import EscalationPolicy, IncidentEvent, Observation
from alerts.incident import Action, Incident
from alerts.level import Level
from detectors.crisis import Assessment, CrisisDetector
from detectors.negbin import band
from radar.authors import AuthorActivity
from radar.config import RadarConfig
from radar.dedup import Deduplicator
from radar.matcher import Matcher, StreamRegistry
from radar.mention import Mention
from radar.metrics import RadarMetrics, StreamSample
from radar.recent import RecentActivity
from radar.sample import Sample
from radar.sentiment import SentimentScorer, classify
from radar.terms import TermBaseline, tokenize
from radar.windows import Bucket, Post, Windower

#: How far back the why of an alert looks for terms and posts.
RECENT_SECONDS = 4 * 3600
#: The window in which an emerging topic is looked for (confirming a sustained negative surge).
TOPIC_SECONDS = 3600
#: Resolved incidents kept in memory (the incident store keeps them all).
HISTORY = 10_000
#: The incident kinds a stream's buckets are observed for.
KINDS = ("crisis", "buzz", "source_silent")


class LastBucket(NamedTuple):
    """What the detector made of a stream's last closed bucket, as far as ``/metrics`` and the
    backtest show it (the whole :class:`~detectors.crisis.Assessment`, with its two readings, costs
    about 1.5 KB a stream to keep; this a fifth of it)."""

    expected: float  # mentions expected in the bucket ...
    lower: float  # ... and the band around it
    upper: float
    share_baseline: float  # the usual negative share
    score: float  # crisis score in [0, 1]
    surprise_mentions: float  # -log10 p of the volume reading
    surprise_negative: float  # -log10 p of the negative reading
    silent: bool  # the source is silent

    @classmethod
    def of(cls, a: Assessment) -> LastBucket:
        """The figures of ``a``."""
        v = a.volume
        fields = (v.expected, v.lower, v.upper, a.share_baseline, a.score, v.surprise, a.negative.surprise)
        return tuple.__new__(cls, (*fields, a.silent))


@dataclass(slots=True)
class StreamState:
    """Everything the radar knows about one stream."""

    name: str
    display: str
    detector: CrisisDetector
    authors: AuthorActivity = field(default_factory=AuthorActivity)
    terms: TermBaseline = field(default_factory=TermBaseline)
    recent: RecentActivity = field(default_factory=partial(RecentActivity, RECENT_SECONDS))
    last: LastBucket | None = None
    sources: dict[str, int] = field(default_factory=dict)  # mentions by their ``source`` field
    ignore_terms: frozenset[str] = frozenset()
    negative_threshold: float = -0.05  # from the stream's detection settings (cached: hot path)
    positive_threshold: float = 0.05
    # what /metrics shows (read at scrape time, see StreamCollector)
    mentions_total: int = 0
    negative_total: int = 0
    last_mentions: int = 0
    last_negative: int = 0
    level: int = 0

    def sample(self) -> StreamSample:
        """The stream's figures for ``/metrics``."""
        a = self.last
        return StreamSample(
            stream=self.name,
            mentions_total=self.mentions_total,
            negative_total=self.negative_total,
            bucket_mentions=self.last_mentions,
            expected=a.expected if a else 0.0,
            expected_lower=a.lower if a else 0.0,
            expected_upper=a.upper if a else 0.0,
            negative_share=self.last_negative / self.last_mentions if self.last_mentions else 0.0,
            negative_share_baseline=a.share_baseline if a else 0.0,
            anomaly_score=a.score if a else 0.0,
            surprise_mentions=a.surprise_mentions if a else 0.0,
            surprise_negative=a.surprise_negative if a else 0.0,
            level=self.level,
            learning=self.learning,
            silent=self.detector.silent,
        )

    @property
    def learning(self) -> bool:
        """True while the detector is still learning what normal looks like."""
        return self.detector.learning

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """Restore a pickled state, also one of checkpoint versions 3 and 4 (the last assessment whole)."""
        for name, value in state[1].items():
            setattr(self, name, LastBucket.of(value) if isinstance(value, Assessment) else value)


class Pipeline:
    """The radar's core, assembled from the configuration.

    Parameters
    ----------
    config
        The radar configuration.
    scorer
        Sentiment scorer for mentions that carry no ``sentiment``.
    metrics
        Where to record metrics (a fresh registry by default).
    sink
        Called with every incident event, in order.
    sampler
        Called after each bucket of a stream with an open incident (or one that just resolved),
        with those incidents' ids and the bucket as a :class:`~radar.sample.Sample` (timelines).
    """

    def __init__(
        self,
        config: RadarConfig,
        scorer: SentimentScorer,
        metrics: RadarMetrics | None = None,
        sink: Callable[[IncidentEvent], None] | None = None,
        sampler: Callable[[list[str], Sample], None] | None = None,
    ) -> None:
        self.config = config
        self.scorer = scorer
        self.metrics = metrics or RadarMetrics()
        self.sink = sink
        self.sampler = sampler
        #: the wall clock (live radars): the delay from a bucket's end to its closing is observed
        self.wall_clock: Callable[[], float] | None = None
        settings = config.radar
        self.bucket_seconds = settings.bucket_seconds
        self.lateness = float(settings.allowed_lateness_seconds)
        self.windower = Windower(settings.bucket_seconds)
        esc = config.escalation
        self.policy = EscalationPolicy(
            deescalate_after=timedelta(minutes=esc.deescalate_after_minutes),
            quiet_period=timedelta(minutes=esc.quiet_period_minutes),
            quiet_periods={"source_silent": timedelta(0)},
        )
        self.matcher = Matcher(config)
        self.registry = StreamRegistry(config.streams, settings.max_streams, settings.auto_streams)
        self.dedup = Deduplicator(settings.dedup_capacity)
        self.streams: dict[str, StreamState] = {}
        self.history: deque[Incident] = deque(maxlen=HISTORY)
        self.max_event_t = -math.inf
        self._ingested: dict[str, Any] = {}  # bound ingest counters, per source
        self._pending: dict[str, int] = {}  # ingested since the last advance, per source
        self.metrics.stream_collector.samples = self.stream_samples

    # -- pickling (checkpoints): the injected collaborators are not part of the state ------------
    _TRANSIENT = (
        "config",
        "scorer",
        "metrics",
        "sink",
        "sampler",
        "wall_clock",
        "matcher",
        "_ingested",
        "_pending",
    )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._TRANSIENT}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.wall_clock = None
        self._ingested = {}
        self._pending = {}

    def attach(
        self,
        config: RadarConfig,
        scorer: SentimentScorer,
        metrics: RadarMetrics | None = None,
        sink: Callable[[IncidentEvent], None] | None = None,
        sampler: Callable[[list[str], Sample], None] | None = None,
    ) -> Pipeline:
        """Re-attach the collaborators after unpickling a checkpoint."""
        self.config, self.scorer, self.sink, self.sampler = config, scorer, sink, sampler
        self.metrics = metrics or RadarMetrics()
        self._ingested = {}
        self.metrics.stream_collector.samples = self.stream_samples
        self.metrics.streams.set(len(self.streams))  # the restored ones: the gauge is new
        self.matcher = Matcher(config)
        self.registry.update(config.streams, config.radar.max_streams, config.radar.auto_streams)
        for name, state in self.streams.items():
            det = config.detection_for(name)
            state.negative_threshold, state.positive_threshold = (
                det.negative_threshold,
                det.positive_threshold,
            )
        return self

    # -- reading -------------------------------------------------------------------------------
    def open_incidents(self) -> list[Incident]:
        """Incidents currently open."""
        return list(self.policy.open_incidents())

    def all_incidents(self) -> list[Incident]:
        """Resolved (recent) and open incidents, by opening time."""
        out = list(self.history) + self.open_incidents()
        return sorted(out, key=lambda i: (i.opened_at, i.id))

    def act(self, incident_id: str, action: Action) -> list[IncidentEvent]:
        """Apply what a person did to the open incident ``incident_id`` (see ``EscalationPolicy.act``)."""
        events = self.policy.act(incident_id, action)
        for event in events:
            if event.type == "resolved":
                self._count(event)
                self.history.append(event.incident)
                state = self.streams.get(event.incident.stream)
                if state is not None and event.incident.pages:
                    state.level = 0
            if self.sink is not None:
                self.sink(event)
        return events

    def source_silent(self, source: str, silent: bool) -> list[str]:
        """A live source went silent (or came back): the streams it mostly feeds treat their buckets
        as missing, not as zero, until mentions flow again (their ``source_silent`` notice opens).
        Returns those streams."""
        fed = []
        for name, state in self.streams.items():
            total = sum(state.sources.values())
            if total and state.sources.get(source, 0) * 2 >= total:
                fed.append(name)
                if silent:
                    state.detector.mark_silent()
        return fed

    def series(self, stream: str, hours: float = 4.0, marker: datetime | None = None) -> Series | None:
        """``stream``'s last ``hours`` of closed buckets with the band expected of each (for charts).

        The expectation is the stream's seasonal baseline as it stands now (what normal looks
        like at each of those times); the band is its ±3 sd under the 1-bucket dispersion.
        """
        state = self.streams.get(stream)
        if state is None:
            return None
        seconds = self.config.radar.bucket_seconds
        baseline = state.detector.volume.baseline
        dispersion = state.detector.volume.dispersions().get(round(seconds / 60), 0.0)
        counts = {b.start: (b.mentions, b.negative) for b in state.recent}
        if not counts:
            return None
        end = max(counts) + seconds
        start = max(min(counts), end - hours * 3600.0)
        points: list[Point] = []
        t = start - (start % seconds)
        while t < end:
            mentions, negative = counts.get(t, (0, 0))
            expected = baseline.expected(t) if baseline is not None else 0.0
            lo, hi = band(expected, dispersion)
            points.append((t, mentions, negative, round(expected, 3), round(lo, 3), round(hi, 3)))
            t += seconds
        return Series(state.display, seconds, points, marker.timestamp() if marker else None)

    def stream_samples(self) -> list[StreamSample]:
        """Every stream's figures for ``/metrics`` (called from the scrape thread)."""
        return [state.sample() for state in list(self.streams.values())]

    def clear_incidents(self) -> None:
        """Forget every incident (after a warm-up on history: learn the normal, not the past)."""
        self.policy = EscalationPolicy(
            deescalate_after=self.policy.deescalate_after,
            quiet_period=self.policy.quiet_period,
            quiet_periods=self.policy.quiet_periods,
        )
        self.history.clear()

    # -- writing -------------------------------------------------------------------------------
    def ingest(self, mention: Mention, source: str = "", score: float | None = None) -> str:
        """Take one validated mention; returns what became of it.

        ``score`` is the text's sentiment when it was computed already (by a
        :class:`~radar.scorepool.ScorePool`); the mention's own ``sentiment`` always wins.

        ``accepted`` (in at least one stream's bucket), ``duplicate``, ``unmatched`` (no stream),
        ``stream_limit`` (its streams are beyond ``max_streams``) or ``late`` (every bucket it
        belongs to is already closed). Buckets are not closed here: see :meth:`advance`.
        """
        if self.dedup.seen(mention.id):
            self.metrics.duplicates.inc()
            return "duplicate"
        names = self.matcher.assign(mention)
        if not names:
            self.metrics.unmatched.inc()
            return "unmatched"
        admitted = [n for n in names if self.registry.admit(n)]
        if not admitted:
            self.metrics.rejected.labels("stream_limit").inc()
            return "stream_limit"
        t = mention.created_at.timestamp()
        if t > self.max_event_t:
            wall = self.wall_clock
            # live: event time never runs ahead of the wall clock. A mention dated in the future
            # waits in its bucket; it does not move the watermark, which would make every
            # mention of the present late until the clock catches up with it.
            self.max_event_t = t if wall is None else max(self.max_event_t, min(t, wall()))
        sentiment = mention.sentiment
        if sentiment is None:
            sentiment = score if score is not None else self.scorer.score(mention.text)
        post = Post(
            mention.amplification,
            mention.id,
            mention.url,
            mention.author,
            mention.author_followers,
            mention.reshares,
            mention.text,
        )
        placed = False
        words = tokenize(mention.text)
        for name in admitted:
            state = self.streams.get(name) or self._new_stream(name)
            polarity = classify(sentiment, state.negative_threshold, state.positive_threshold)
            ignore = state.ignore_terms
            terms = [w for w in words if w not in ignore] if ignore else words
            weight = state.authors.weight(mention.author, t)
            origin = mention.source
            state.sources[origin] = state.sources.get(origin, 0) + 1
            if self.windower.add(
                name,
                t=t,
                polarity=polarity,
                weight=weight,
                author=mention.author,
                terms=terms,
                post=post,
                now=self.max_event_t,
            ):
                placed = True
            else:
                self.metrics.late.labels(name).inc()
        label = source or mention.source or "unknown"
        self._pending[label] = self._pending.get(label, 0) + 1  # into the metric at the next advance
        return "accepted" if placed else "late"

    def advance(self, watermark: float | None = None) -> list[IncidentEvent]:
        """Close every bucket the watermark has passed; returns the incident events (in order).

        Without an argument the watermark is the newest event time minus the allowed lateness.
        """
        if watermark is None:
            watermark = self.max_event_t - self.lateness
        self._flush_counts()
        if not math.isfinite(watermark):
            return []
        events: list[IncidentEvent] = []
        last_end = -math.inf
        wall = self.wall_clock
        for bucket in self.windower.advance(watermark):
            if wall is not None and bucket.end != last_end:  # once per bucket end, not per stream
                last_end = bucket.end
                self.metrics.bucket_close_delay.observe(max(0.0, wall() - bucket.end))
            events.extend(self._close(bucket))
        self.metrics.watermark.set(max(self.windower.watermark, 0.0))
        return events

    def finish(self) -> list[IncidentEvent]:
        """Close every bucket up to the newest event (end of a replay)."""
        return self.advance(self.max_event_t + self.bucket_seconds)

    def ingest_all(self, mentions: Iterable[Mention]) -> list[IncidentEvent]:
        """Ingest and advance mention by mention (a replay in event time)."""
        events: list[IncidentEvent] = []
        for mention in mentions:
            self.ingest(mention)
            if self.max_event_t - self.lateness >= self.windower.watermark + self.bucket_seconds:
                events.extend(self.advance())
        return events

    # -- internals -----------------------------------------------------------------------------
    def _flush_counts(self) -> None:
        for label, n in self._pending.items():
            counter = self._ingested.get(label)
            if counter is None:
                counter = self._ingested[label] = self.metrics.ingested.labels(label)
            counter.inc(n)
        self._pending.clear()

    def _new_stream(self, name: str) -> StreamState:
        det = self.config.detection_for(name)
        esc = self.config.escalation
        detector = CrisisDetector(
            bucket_seconds=self.bucket_seconds,
            warmup=det.warmup_hours * 3600.0,
            surprise=det.surprise,
            watch_ratio=det.watch_ratio,
            warning_ratio=det.warning_ratio,
            crisis_ratio=det.crisis_ratio,
            min_excess=det.min_excess,
            silent_after=esc.silent_after_minutes * 60.0,
        )
        configured = self.config.streams.get(name)
        display = (configured.display_name if configured else "") or name
        ignore = frozenset(self.matcher.own_terms(name))
        state = StreamState(
            name,
            display,
            detector,
            ignore_terms=ignore,
            negative_threshold=det.negative_threshold,
            positive_threshold=det.positive_threshold,
        )
        self.streams[name] = state
        self.metrics.streams.set(len(self.streams))
        return state

    def _close(self, bucket: Bucket) -> list[IncidentEvent]:
        state = self.streams[bucket.stream]
        a = state.detector.update_counts(bucket.start, bucket.weighted, bucket.weighted_negative)
        state.recent.add(bucket)
        if a.topic_candidate:  # a sustained negative surge: is a topic emerging with it?
            recent_terms, mentions = state.recent.terms(bucket.end - TOPIC_SECONDS)
            a = state.detector.confirm_topic(a, *state.terms.emerging(recent_terms, mentions))
        state.last = LastBucket.of(a)
        if a.severity == 0 and not a.buzz and not a.silent and not a.learning and not a.topic_window:
            state.terms.learn(bucket.terms, bucket.mentions)
        self._record(state, bucket, a)
        name, incident = state.name, self.policy.incident
        if (  # the usual bucket: calm, and nothing open to resolve (observing would change nothing)
            not a.severity
            and not a.buzz
            and not a.silent
            and (
                not self.policy.any_open()
                or (
                    incident(name, "crisis") is None
                    and incident(name, "buzz") is None
                    and incident(name, "source_silent") is None
                )
            )
        ):
            state.level = 0
            return []
        at = datetime.fromtimestamp(bucket.end, UTC)
        candidates = {
            "crisis": Level(a.severity),
            "buzz": Level.WATCH if a.buzz else Level.CALM,
            "source_silent": Level.WATCH if a.silent else Level.CALM,
        }
        events: list[IncidentEvent] = []
        for kind, level in candidates.items():
            if kind == "buzz" and incident(name, "crisis") is not None:
                level = Level.CALM  # the surge is the open crisis's: it is not announced twice
            if level == Level.CALM and self.policy.incident(state.name, kind) is None:
                continue
            why: Any = partial(self._why, state, a, kind, bucket.end) if level > Level.CALM else {}
            for event in self.policy.observe(Observation(state.name, kind, at, level, why)):
                events.append(event)
                self._count(event)
                if event.type == "resolved":
                    self.history.append(event.incident)
                if self.sink is not None:
                    self.sink(event)
        open_now = [i for i in (incident(name, kind) for kind in KINDS) if i is not None]  # the stream's own
        level_now = max((i.level for i in open_now if i.pages), default=Level.CALM)
        state.level = int(level_now)
        if self.sampler is not None:
            ids = [i.id for i in open_now] + [e.incident.id for e in events if e.type == "resolved"]
            if ids:
                v = a.volume
                sample = Sample(
                    bucket.start, bucket.mentions, bucket.negative, v.expected, v.lower, v.upper, state.level
                )
                self.sampler(ids, sample)
        return events

    def _count(self, event: IncidentEvent) -> None:
        incident = event.incident
        m = self.metrics
        if event.type == "opened":
            m.incidents.labels(incident.stream, incident.kind).inc()
        m.level_changes.labels(incident.stream, str(event.level)).inc()
        open_now = 0 if event.type == "resolved" else 1
        m.open_incidents.labels(incident.stream, incident.kind).set(open_now)

    def _record(self, state: StreamState, bucket: Bucket, a: Assessment) -> None:
        state.mentions_total += bucket.mentions
        state.negative_total += bucket.negative
        state.last_mentions = bucket.mentions
        state.last_negative = bucket.negative

    def _why(self, state: StreamState, a: Assessment, kind: str, end: float) -> dict[str, Any]:
        """Why the stream looks the way it does: the figures people need to judge an alert."""
        reading = a.volume if kind == "buzz" else a.negative
        minutes = max(reading.window, 1)
        recent = state.recent
        mentions, negative = recent.counts(since=end - minutes * 60)
        context = end - max(minutes, 15) * 60
        terms, total = recent.terms(since=context)
        negative_posts = kind == "crisis" and recent.has_negative_posts(since=context)
        posts = recent.top_posts(since=context, negative=negative_posts)
        return {
            "stream": state.name,
            "stream_name": state.display,
            "kind": kind,
            "window_minutes": minutes,
            "mentions": mentions,
            "expected": round(a.volume.window_expected if kind == "buzz" else _expected_total(a), 2),
            "band": [round(a.volume.lower, 2), round(a.volume.upper, 2)],
            "bucket_expected": round(a.volume.expected, 2),
            "negative": negative,
            "negative_expected": round(a.negative.window_expected, 2),
            "ratio": round(reading.ratio, 2),
            "volume_ratio": round(a.volume.ratio, 2),
            "negative_share": round(a.share, 3),
            "negative_share_baseline": round(a.share_baseline, 3),
            "surprise": round(reading.surprise, 1),
            "slow_burn": reading.by_cusum or a.by_topic,
            "topic": _topic(a),
            "now": _now(state.detector) if kind == "crisis" else None,
            "top_terms": state.terms.surging(terms, total),
            "top_posts": [p.to_json() for p in posts],
            "learning": a.learning,
        }


def _topic(a: Assessment) -> dict[str, Any] | None:
    """The emerging topic looked at for this bucket (a sustained negative surge), if any."""
    if not a.topic:
        return None
    return {"term": a.topic, "surprise": round(a.topic_surprise, 1), "raised_to_warning": a.by_topic}


def _now(detector: CrisisDetector) -> dict[str, Any]:
    """The negatives of the last few minutes against normal (how a surge is going right now)."""
    minutes, observed, expected = detector.recent_negatives()
    ratio = observed / expected if expected > 0 else (float("inf") if observed > 0 else 1.0)
    return {
        "window_minutes": minutes,
        "negative": round(observed, 2),
        "negative_expected": round(expected, 2),
        "ratio": round(min(ratio, 1e6), 2),
    }


def _expected_total(a: Assessment) -> float:
    """Expected mentions over the window the negatives were judged on (share-scaled back)."""
    neg = a.negative
    if a.share_baseline > 0:
        return neg.window_expected / a.share_baseline
    return neg.window_expected
