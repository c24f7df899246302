"""The real airline tweets (Twitter US Airline Sentiment, Feb 2015) through the radar's backtest.

    .venv/bin/python bench/airline.py [--data CSV] [--config TOML] [--out-dir DIR] [--workers N]

Reads ``../shared/data/airline_tweets/Tweets.csv`` at run time (CC BY-NC-SA: never copied into
the repository) with the ``airline`` CSV preset (one stream per airline), replays it through
:func:`radar.backtest.run_backtest` with ``bench/airline.toml`` and the default sentiment scorer
(VADER), exactly as ``radar backtest`` does, and writes

* ``bench/results/airline.md``: what the radar raised per airline and why, whether the
  cancellation wave of Feb 21-24 was caught and how early, and which alerts look false;
* ``bench/results/airline.png``: per airline, mentions and negative mentions per hour with the
  radar's expected negatives, "Cancelled Flight" tweets, and the incidents shaded by level.

**Replay order.** The file is sorted by airline, then newest first. Replayed as stored (``radar
backtest --order arrival``) nearly every tweet is refused as late; the bench runs that replay too
(its counts go in the report) and then replays the tweets in ``created_at`` order, the order they
were posted in, which is what a live radar would have seen and what ``radar backtest
--csv-preset airline`` does by default (``--order time``).

**Settings, chosen before any run** (``bench/airline.toml``): everything at its default except
that ``warmup_hours = 24`` is stated explicitly: the file covers about 7.5 days, the baseline is a
time-of-day profile, and 24 h is the least that shows it every slot of the day once.

**Reference onset of the wave, fixed before looking at the radar's output.** Per airline, the time
of the first "Cancelled Flight" tweet (the Kaggle text artefact for "cancelled") at which the
trailing 6 h hold at least 10 such tweets *and* more than in any 6 h of Feb 17-20 (the days
before the wave). An alert up to 12 h before that onset counts as early detection of the wave.
A warning or crisis *looks false* when it came earlier than that (or on an airline without a
wave), or when its window held no more negatives than the same clock window on one of the
ordinary days Feb 18-20.

The pipeline is a thin subclass of :class:`radar.pipeline.Pipeline` that also records each
closed bucket's counts and the detector's expectation (for the chart and the baseline check); it
changes nothing in how buckets are judged.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from detectors.crisis import Assessment
from radar.backtest import run_backtest
from radar.config import RadarConfig, load_config
from radar.mention import Mention
from radar.pipeline import TOPIC_SECONDS, Pipeline, StreamState
from radar.scorepool import default_workers
from radar.sentiment import VaderScorer, classify
from radar.sources.files import read_mentions
from radar.windows import Bucket

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "airline_tweets" / "Tweets.csv"
CONFIG = REPO / "bench" / "airline.toml"
OUT_DIR = REPO / "bench" / "results"

#: The days before the wave (Feb 17-20, UTC): the reference for the onset and the baseline check.
REFERENCE_END = datetime(2015, 2, 21, tzinfo=UTC)
WAVE_WINDOW = timedelta(hours=6)
WAVE_MIN = 10
#: An alert this long before the reference onset still counts as (early) detection of the wave.
EARLY_CREDIT = timedelta(hours=12)
#: The span after the onset over which the report compares negatives seen with expected.
WAVE_SPAN = timedelta(hours=24)
#: An hour of day is a "baseline hole" when, on the ordinary days, the negatives seen there were
#: at least HOLE_RATIO times the radar's expectation (and at least HOLE_MIN of them).
HOLE_RATIO = 3.0
HOLE_MIN = 5.0
#: The days (UTC) an alert is compared with: after the first day (sampled thinly until about
#: 16:00 UTC on Feb 17) and before the wave.
ORDINARY_DAYS = (date(2015, 2, 18), date(2015, 2, 19), date(2015, 2, 20))
#: Fewer mentions than this before REFERENCE_END: the stream was hardly sampled before the wave.
THIN_SAMPLE = 50
#: Longest tweet fragment quoted in the report.
FRAGMENT = 60
CANCELLED = "cancelled flight"
#: The term the export's "Cancelled Flight" gives (what the term baseline counts).
CANCELLED_TERM = "cancelled"
NOTIFYING = ("warning", "crisis")
LEVEL_COLORS = {"watch": "#f5d142", "warning": "#f08c1a", "crisis": "#d62728"}


# -- the replay ------------------------------------------------------------------------------------
@dataclass(slots=True)
class HourRow:
    """One stream's closed buckets of one hour, summed."""

    mentions: int = 0
    negative: int = 0
    weighted: float = 0.0  # what the detector sees: repeat posters damped
    weighted_negative: float = 0.0
    expected: float = 0.0  # the detector's expectation of ``weighted``
    negative_expected: float = 0.0
    learning: bool = False
    share_baseline: float = 0.0  # the detector's usual negative share at the hour's last bucket


class TracingPipeline(Pipeline):
    """The radar's pipeline, also keeping per-hour sums of every closed bucket and its assessment."""

    def __init__(self, config: RadarConfig, scorer: VaderScorer) -> None:
        super().__init__(config, scorer)
        self.hours: dict[tuple[str, int], HourRow] = {}
        #: per stream, (mentions, negative) of every non-empty bucket by its start
        self.buckets: dict[str, dict[int, tuple[int, int]]] = {}
        self.learning_until: dict[str, float] = {}
        #: per stream, after warm-up: (bucket end, the most unusual term of the last hour and its
        #: surprise, the "cancelled" count of that hour and its surprise), see ``_trace_topic``
        self.topics: dict[str, list[TopicTrace]] = {}
        #: per stream, the surprise at which an emerging topic confirms a sustained negative surge
        self.topic_trigger: dict[str, float] = {}

    def _record(self, state: StreamState, bucket: Bucket, a: Assessment) -> None:
        super()._record(state, bucket, a)
        if not a.learning and bucket.mentions:
            self._trace_topic(state, bucket)
        key = (state.name, int(bucket.start // 3600) * 3600)
        row = self.hours.get(key)
        if row is None:
            row = self.hours[key] = HourRow()
        row.mentions += bucket.mentions
        row.negative += bucket.negative
        if bucket.mentions:
            self.buckets.setdefault(state.name, {})[int(bucket.start)] = (bucket.mentions, bucket.negative)
        row.weighted += bucket.weighted
        row.weighted_negative += bucket.weighted_negative
        row.expected += a.volume.expected
        row.negative_expected += a.negative.expected
        row.share_baseline = a.share_baseline
        if a.learning:
            row.learning = True
            self.learning_until[state.name] = bucket.end

    def _trace_topic(self, state: StreamState, bucket: Bucket) -> None:
        """What an emerging-topic check would find now: the most unusual term of the last hour,
        and how unusual "cancelled" is (the detector's emerging-topic check, run on every bucket
        rather than only on sustained negative surges, after the bucket was closed)."""
        terms, mentions = state.recent.terms(bucket.end - TOPIC_SECONDS)
        term, surprise = state.terms.emerging(terms, mentions)
        cancelled = terms.get(CANCELLED_TERM, 0)
        _, cancelled_surprise = state.terms.emerging({CANCELLED_TERM: cancelled}, mentions)
        trace = TopicTrace(int(bucket.end), term, surprise, cancelled, cancelled_surprise)
        self.topics.setdefault(state.name, []).append(trace)
        self.topic_trigger[state.name] = state.detector.topic_trigger


class TopicTrace(NamedTuple):
    """One bucket of :attr:`TracingPipeline.topics`."""

    end: int  # of the bucket: the hour looked at ends here
    term: str
    surprise: float
    cancelled: int
    cancelled_surprise: float


def load_mentions(path: Path) -> tuple[list[Mention], Counter[str]]:
    """The file's valid mentions in file order, and the rejection reasons of the rest."""
    mentions: list[Mention] = []
    rejected: Counter[str] = Counter()
    for record in read_mentions(path, preset="airline"):
        if isinstance(record, Mention):
            mentions.append(record)
        else:
            rejected[record.reason] += 1
    return mentions, rejected


def load_labels(path: Path) -> dict[str, str]:
    """The hand label (``airline_sentiment``) per tweet id; of a duplicated id, the more confident."""
    best: dict[str, tuple[float, str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                confidence = float(row.get("airline_sentiment_confidence") or 0.0)
            except ValueError:
                confidence = 0.0
            tid = (row.get("tweet_id") or "").strip()
            if tid and (tid not in best or confidence > best[tid][0]):
                best[tid] = (confidence, row.get("airline_sentiment") or "")
    return {tid: label for tid, (_, label) in best.items()}


# -- what the data says, independently of the radar ----------------------------------------------
def is_cancellation(text: str) -> bool:
    """The tweet is about a cancelled flight (the export's "Cancelled Flight(led)" artefact)."""
    return CANCELLED in text.lower()


def wave_onset(times: Sequence[datetime]) -> tuple[datetime | None, int]:
    """Reference onset of a wave of cancellation tweets at ``times`` (sorted), and the threshold.

    The first time at or after :data:`REFERENCE_END` at which the trailing :data:`WAVE_WINDOW`
    holds at least :data:`WAVE_MIN` of them and more than any such window before.
    """
    window: deque[datetime] = deque()
    busiest = 0
    for t in times:
        window.append(t)
        while window[0] <= t - WAVE_WINDOW:
            window.popleft()
        if t < REFERENCE_END:
            busiest = max(busiest, len(window))
        elif len(window) >= max(WAVE_MIN, busiest + 1):
            return t, max(WAVE_MIN, busiest + 1)
    return None, max(WAVE_MIN, busiest + 1)


@dataclass(slots=True)
class StreamFacts:
    """What the report needs to know about one airline beside its incidents."""

    name: str
    display: str
    mentions: int = 0
    negative: int = 0  # as the radar scored them (VADER)
    labelled_negative: int = 0  # by the hand labels of the data set
    cancelled: int = 0
    cancelled_negative: int = 0  # of those, negative as the radar scored them
    reference_mentions: int = 0  # before REFERENCE_END
    first_busy_hour: datetime | None = None  # first hour with at least 10 mentions
    learning_until: datetime | None = None
    onset: datetime | None = None
    onset_threshold: int = WAVE_MIN
    #: negatives per non-empty bucket (start, epoch seconds), as the radar counted them
    negatives: dict[int, int] = field(default_factory=dict)
    #: hours of day (UTC) where the radar expected far too few negatives on the ordinary days:
    #: (hour, seen, expected), both damped for repeat posters as the detector sees them
    holes: list[tuple[int, float, float]] = field(default_factory=list)
    #: the same hours from REFERENCE_END on: (seen, expected)
    holes_later: tuple[float, float] = (0.0, 0.0)
    #: negatives seen and expected from EARLY_CREDIT before the onset to WAVE_SPAN after it, and
    #: the mean negatives of an ordinary day (all damped for repeat posters, as the detector counts)
    wave_seen: float = 0.0
    wave_expected: float = 0.0
    ordinary_daily: float = 0.0
    #: the negative share over the same span (damped), and the detector's usual share at the onset
    wave_share: float = 0.0
    share_at_onset: float = 0.0
    #: over the same span: the bucket whose last hour had the most unusual term, and the one where
    #: "cancelled" was most unusual (see TracingPipeline._trace_topic)
    topic_peak: TopicTrace | None = None
    cancelled_peak: TopicTrace | None = None
    topic_trigger: float = 0.0
    #: configured handles that the sentiment scorer alone finds non-neutral: (handle, score)
    handle_scores: list[tuple[str, float]] = field(default_factory=list)


def baseline_holes(rows: dict[int, HourRow]) -> tuple[list[tuple[int, float, float]], tuple[float, float]]:
    """Hours of day where negatives seen were >= HOLE_RATIO x expected on the ordinary days.

    Also the negatives seen and expected in those hours from :data:`REFERENCE_END` on.
    """
    seen = [0.0] * 24
    expected = [0.0] * 24
    for start, row in rows.items():
        t = datetime.fromtimestamp(start, UTC)
        if not row.learning and t.date() in ORDINARY_DAYS:
            seen[t.hour] += row.weighted_negative
            expected[t.hour] += row.negative_expected
    holes = [
        (h, round(seen[h], 1), round(expected[h], 1))
        for h in range(24)
        if seen[h] >= HOLE_MIN and seen[h] >= HOLE_RATIO * expected[h]
    ]
    hours = {h for h, _, _ in holes}
    later = [
        r
        for start, r in rows.items()
        if start >= REFERENCE_END.timestamp() and datetime.fromtimestamp(start, UTC).hour in hours
    ]
    return holes, (
        round(sum(r.weighted_negative for r in later), 1),
        round(sum(r.negative_expected for r in later), 1),
    )


def _day(start: int) -> date:
    return datetime.fromtimestamp(start, UTC).date()


def stream_facts(
    config: RadarConfig,
    mentions: Iterable[Mention],
    labels: dict[str, str],
    pipe: TracingPipeline,
) -> dict[str, StreamFacts]:
    """Per stream: volumes, negatives, cancellation tweets, reference onset, baseline holes."""
    facts: dict[str, StreamFacts] = {}
    cancel_times: dict[str, list[datetime]] = {}
    scorer = VaderScorer()
    seen: set[str] = set()
    for m in mentions:
        if m.id in seen:
            continue
        seen.add(m.id)
        for name in m.streams:
            f = facts.get(name)
            if f is None:
                settings = config.streams.get(name)
                f = facts[name] = StreamFacts(name, (settings.display_name if settings else "") or name)
                handles = settings.handles if settings else ()
                f.handle_scores = [(h, s) for h in handles if (s := scorer.score(h)) != 0.0]
            f.labelled_negative += labels.get(m.id) == "negative"
            f.reference_mentions += m.created_at < REFERENCE_END
            if is_cancellation(m.text):
                f.cancelled += 1
                det = config.detection_for(name)
                score = scorer.score(m.text) if m.sentiment is None else m.sentiment
                f.cancelled_negative += classify(score, det.negative_threshold, det.positive_threshold) < 0
                cancel_times.setdefault(name, []).append(m.created_at)
    per_stream: dict[str, dict[int, HourRow]] = {}
    for (name, start), row in pipe.hours.items():
        per_stream.setdefault(name, {})[start] = row
    for name, f in facts.items():
        rows = per_stream.get(name, {})
        f.mentions = sum(r.mentions for r in rows.values())
        f.negative = sum(r.negative for r in rows.values())
        busy = sorted(start for start, r in rows.items() if r.mentions >= 10)
        f.first_busy_hour = datetime.fromtimestamp(busy[0], UTC) if busy else None
        until = pipe.learning_until.get(name)
        f.learning_until = datetime.fromtimestamp(until, UTC) if until is not None else None
        f.onset, f.onset_threshold = wave_onset(sorted(cancel_times.get(name, [])))
        f.negatives = {start: neg for start, (_, neg) in pipe.buckets.get(name, {}).items() if neg}
        f.holes, f.holes_later = baseline_holes(rows)
        if f.onset is not None:
            lo, hi = (f.onset - EARLY_CREDIT).timestamp(), (f.onset + WAVE_SPAN).timestamp()
            around = [r for start, r in rows.items() if lo <= start < hi]
            f.wave_seen = round(sum(r.weighted_negative for r in around), 1)
            f.wave_expected = round(sum(r.negative_expected for r in around), 1)
            weighted = sum(r.weighted for r in around)
            f.wave_share = sum(r.weighted_negative for r in around) / weighted if weighted else 0.0
            before = [r for start, r in sorted(rows.items()) if start <= f.onset.timestamp()]
            f.share_at_onset = before[-1].share_baseline if before else 0.0
            traces = [tr for tr in pipe.topics.get(name, []) if lo < tr.end <= hi]
            if traces:
                f.topic_peak = max(traces, key=lambda tr: (tr.surprise, -tr.end))
                f.cancelled_peak = max(traces, key=lambda tr: (tr.cancelled_surprise, -tr.end))
                f.topic_trigger = pipe.topic_trigger[name]
        days = [r.weighted_negative for start, r in rows.items() if _day(start) in ORDINARY_DAYS]
        f.ordinary_daily = round(sum(days) / len(ORDINARY_DAYS), 1)
    return facts


def topic_text(f: StreamFacts) -> str:
    """How close an emerging topic came to confirming the wave (empty without a trace)."""
    top, cancelled = f.topic_peak, f.cancelled_peak
    if top is None or cancelled is None:
        return ""
    at = partial(datetime.fromtimestamp, tz=UTC)
    return (
        f" Nor did an emerging topic raise it: that takes a term of the last hour at a surprise of "
        f"{f.topic_trigger:g} (-log10 p against the stream's usual terms) during a sustained negative "
        f"surge. Over that span the most unusual term reached {top.surprise:.1f} (“{top.term}”, in the "
        f"hour to {fmt_time(at(top.end))}); “{CANCELLED_TERM}” reached {cancelled.cancelled_surprise:.1f} "
        f"({cancelled.cancelled} times in the hour to {fmt_time(at(cancelled.end))})."
    )


# -- the report ------------------------------------------------------------------------------------
@dataclass(slots=True)
class RunInfo:
    """How the report was made."""

    command: str = ".venv/bin/python bench/airline.py"
    data: str = "../shared/data/airline_tweets/Tweets.csv"
    config: str = "bench/airline.toml"
    warmup_hours: float = 24.0
    workers: int = 0
    seconds: float = 0.0  # the time-ordered backtest
    total_seconds: float = 0.0  # the whole script
    commit: str = ""
    modified: list[str] = field(default_factory=list)  # uncommitted changes under radar/detectors/alerts
    diff_sha: str = ""  # short sha256 of ``git diff HEAD`` of those
    outcomes: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    file_order: dict[str, int] = field(default_factory=dict)  # outcomes of the file-order replay
    file_order_incidents: int = 0


def parse_time(value: str | None) -> datetime | None:
    """A backtest timestamp (``...Z``) as an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def fmt_time(t: datetime | None) -> str:
    """``Feb 22 11:38`` (UTC), or a dash."""
    return t.astimezone(UTC).strftime("%b %d %H:%M") if t else "–"


def fmt_span(d: timedelta) -> str:
    """``45 min`` / ``3.2 h`` (unsigned)."""
    minutes = abs(d.total_seconds()) / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def fmt_relative(t: datetime, onset: datetime) -> str:
    """``3.2 h before onset`` / ``45 min after onset``."""
    return f"{fmt_span(t - onset)} {'before' if t < onset else 'after'} onset"


def fragment(text: str) -> str:
    """A short, single-line piece of a post."""
    flat = " ".join(text.split())
    return flat if len(flat) <= FRAGMENT else flat[: FRAGMENT - 1].rstrip() + "…"


def first_notifying(incident: dict[str, Any]) -> dict[str, Any] | None:
    """The incident's first change to warning or crisis (what posts to Slack), if any."""
    for change in incident.get("levels", []):
        if change.get("level") in NOTIFYING:
            return change
    return None


def peak_reached(incident: dict[str, Any]) -> datetime | None:
    """When the incident first reached its peak level."""
    for change in incident.get("levels", []):
        if change.get("level") == incident.get("peak_level"):
            return parse_time(change.get("at"))
    return None


def explain(why: dict[str, Any]) -> str:
    """A level change's why in plain words."""
    window = why.get("window_minutes", "?")
    parts = [
        f"{why.get('negative', 0)} negative mentions in the last {window} min where "
        f"{why.get('negative_expected', 0):g} were expected ({why.get('ratio', 0):g}× normal, "
        f"surprise 10^−{why.get('surprise', 0):g})",
        f"{why.get('mentions', 0)} mentions in all against {why.get('expected', 0):g} expected",
        f"negative share {why.get('negative_share', 0):.0%} against a usual "
        f"{why.get('negative_share_baseline', 0):.0%}",
    ]
    if why.get("slow_burn"):
        parts.append("flagged as a slow burn (accumulated excess)")
    terms = why.get("top_terms") or []
    if terms:
        listed = ", ".join(f"*{t['term']}* ({t['count']}, {t['lift']:g}× usual)" for t in terms)
        parts.append(f"surging terms {listed}")
    else:
        parts.append("no surging terms")
    posts = why.get("top_posts") or []
    if posts:
        parts.append(f"most amplified post “{fragment(posts[0].get('text', ''))}”")
    return "; ".join(parts) + "."


def ordinary_counts(negatives: dict[int, int], at: datetime, minutes: int) -> list[int]:
    """Negatives in the same clock window ``[at - minutes, at)`` on each other ordinary day."""
    out = []
    for day in ORDINARY_DAYS:
        if day == at.astimezone(UTC).date():
            continue
        end = at.timestamp() + (day - at.astimezone(UTC).date()).days * 86_400
        start = end - minutes * 60
        out.append(sum(n for t, n in negatives.items() if start <= t < end))
    return out


def hours_text(f: StreamFacts) -> str:
    """The stream's baseline holes in words."""
    if not f.holes:
        return "no baseline holes"
    seen = sum(s for _, s, _ in f.holes)
    expected = sum(e for _, _, e in f.holes)
    hours = ", ".join(f"{h:02d}" for h, _, _ in f.holes)
    later_seen, later_expected = f.holes_later
    return (
        f"baseline holes at {hours} h UTC: on Feb 18–20 the radar expected {expected:g} negatives there "
        f"and saw {seen:g}; from Feb 21 on, {later_expected:g} expected and {later_seen:g} seen"
    )


@dataclass(slots=True)
class Alert:
    """A crisis incident's first warning/crisis change, with what the report judges about it."""

    stream: str
    incident: dict[str, Any]
    change: dict[str, Any]
    at: datetime
    for_wave: bool  # at or after the reference onset minus EARLY_CREDIT
    ordinary: list[int]  # negatives in the same window on the other ordinary days

    @property
    def negatives(self) -> int:
        """Negative mentions in the window that raised it."""
        return int((self.change.get("why") or {}).get("negative", 0))

    @property
    def looks_ordinary(self) -> bool:
        """No more negatives than the same window held on some ordinary day."""
        return bool(self.ordinary) and self.negatives <= max(self.ordinary)

    @property
    def looks_false(self) -> bool:
        """Before any wave, or nothing out of the ordinary for the hour."""
        return not self.for_wave or self.looks_ordinary

    def ordinary_text(self) -> str:
        """``2, 7, 4 (Feb 18–20)``."""
        return ", ".join(str(n) for n in self.ordinary) if self.ordinary else "–"


def alerts_of(doc: dict[str, Any], facts: dict[str, StreamFacts]) -> list[Alert]:
    """Every crisis incident that reached warning or crisis, at its first such change."""
    out = []
    for incident in doc.get("incidents", []):
        change = first_notifying(incident) if incident.get("kind") == "crisis" else None
        at = parse_time(change.get("at")) if change else None
        if change is None or at is None:
            continue
        f = facts.get(incident["stream"]) or StreamFacts(incident["stream"], incident["stream"])
        for_wave = f.onset is not None and at >= f.onset - EARLY_CREDIT
        minutes = int((change.get("why") or {}).get("window_minutes") or 60)
        out.append(
            Alert(
                incident["stream"], incident, change, at, for_wave, ordinary_counts(f.negatives, at, minutes)
            )
        )
    return out


def judgement(a: Alert) -> str:
    """What the report makes of one alert."""
    tags = ["for the wave" if a.for_wave else "before any wave"]
    if a.ordinary:
        same = f"same window on the other days of Feb 18–20: {a.ordinary_text()} negatives"
        tags.append(f"{same}, {'nothing unusual' if a.looks_ordinary else 'above all of them'}")
    return "; ".join(tags)


def build_report(doc: dict[str, Any], facts: dict[str, StreamFacts], run: RunInfo) -> str:
    """The Markdown report from a backtest output document and the per-airline facts."""
    incidents: list[dict[str, Any]] = doc.get("incidents", [])
    alerts = alerts_of(doc, facts)
    names = sorted(facts, key=lambda n: facts[n].display)
    hours = WAVE_WINDOW.seconds // 3600
    lines: list[str] = []
    add = lines.append

    add("# The airline tweets through the radar (Feb 2015)")
    add("")
    add(
        f"`{run.command}` replays the Twitter US Airline Sentiment export (`{run.data}`, read at run "
        f"time; CC BY-NC-SA, not in this repository) through `radar.backtest.run_backtest`, the code "
        f"behind `radar backtest FILE --csv-preset airline --config {run.config}`: one stream per "
        f"airline, sentiment scored by VADER ({run.workers} scoring worker(s)), 1-minute buckets."
    )
    state = f"commit `{run.commit[:10]}`" if run.commit else "an unknown commit"
    if run.modified:
        state += " with uncommitted changes to " + ", ".join(f"`{p}`" for p in run.modified)
        if run.diff_sha:
            state += f" (sha256 of `git diff HEAD` {run.diff_sha})"
    o = run.outcomes
    add(
        f"Run on {state}. The backtest took {run.seconds:.1f} s ({run.total_seconds:.1f} s for the whole "
        f"script); {o.get('accepted', 0):,} mentions accepted, {o.get('duplicate', 0):,} duplicates, "
        f"{o.get('late', 0):,} late, {sum(run.rejected.values()):,} rejected. All times are UTC "
        "(the tweets are stamped Pacific time, UTC−8)."
    )
    add("")
    add("![per airline: mentions and negative mentions per hour, incidents shaded](airline.png)")
    add("")

    add("## How it was run")
    add("")
    fo = run.file_order
    add(
        "* **Replay order.** The file is sorted by airline, then newest first. Replayed as stored "
        f"(`--order arrival`), {fo.get('accepted', 0):,} mentions are "
        f"accepted, {fo.get('late', 0):,} refused as late and {run.file_order_incidents} incidents "
        "raised. Below, the tweets are replayed in `created_at` order, the order they were posted in "
        "(`--order time`, the default with `--csv-preset airline`)."
    )
    add(
        f"* **Settings** (`{run.config}`, chosen before any run): the defaults, with "
        f"`warmup_hours = {run.warmup_hours:g}` stated explicitly: the data covers about 7.5 days and "
        "the baseline is a time-of-day profile; 24 h is the least that shows it every slot of the day "
        "once. A stream learns for that long after its first bucket and cannot alert before."
    )
    add(
        "* **Reference onset of the cancellation wave** (fixed before reading the radar's output): "
        f"the first “Cancelled Flight” tweet at which the trailing {hours} h hold at least {WAVE_MIN} "
        f"such tweets and more than any {hours} h of Feb 17–20. A warning or crisis from "
        f"{EARLY_CREDIT.seconds // 3600} h before that onset on counts as raised for the wave."
    )
    add(
        "* **Looks false**: a warning or crisis before any wave, or one whose negatives were no more "
        "than the same clock window held on one of the ordinary days Feb 18–20 (the file's first day, "
        "Feb 17, was sampled thinly until about 16:00 UTC)."
    )
    add(
        "* **Baseline holes**: hours of day where, on Feb 18–20 after warm-up, the negatives seen were "
        f"at least {HOLE_RATIO:g}× what the radar expected (and at least {HOLE_MIN:g}): the radar's "
        "normal is too low there."
    )
    add("")

    add("## Per airline")
    add("")
    add(
        "| airline | mentions | negative: VADER / hand labels | “Cancelled Flight” tweets (VADER-negative) "
        "| mentions before Feb 21 | learning until | wave onset (reference) | incidents "
        "| first warning/crisis for the wave |"
    )
    add("|---|--:|--:|--:|--:|---|---|---|---|")
    for name in names:
        f = facts[name]
        own = [i for i in incidents if i.get("stream") == name]
        kinds = Counter(f"{i.get('kind')} (peak {i.get('peak_level')})" for i in own)
        summary = ", ".join(f"{n}× {k}" for k, n in sorted(kinds.items())) or "none"
        wave = [a for a in alerts if a.stream == name and a.for_wave]
        if f.onset is None:
            first = "no wave"
        elif wave:
            first = f"{wave[0].change['level']} {fmt_time(wave[0].at)} ({fmt_relative(wave[0].at, f.onset)})"
        else:
            first = "**none**"
        share = (
            f"{f.negative / f.mentions:.0%} / {f.labelled_negative / f.mentions:.0%}" if f.mentions else "–"
        )
        cancelled = f"{f.cancelled} ({f.cancelled_negative / f.cancelled:.0%})" if f.cancelled else "0"
        add(
            f"| {f.display} | {f.mentions:,} | {share} | {cancelled} | {f.reference_mentions:,} "
            f"| {fmt_time(f.learning_until)} | {fmt_time(f.onset)} | {summary} | {first} |"
        )
    add("")

    for name in names:
        f = facts[name]
        own = [i for i in incidents if i.get("stream") == name]
        add(f"### {f.display}")
        add("")
        notes = [hours_text(f)]
        if f.reference_mentions < THIN_SAMPLE:
            notes.append(
                f"only {f.reference_mentions} mentions before Feb 21 and the first hour with 10 or more "
                f"at {fmt_time(f.first_busy_hour)}: the stream was hardly sampled before then, so its "
                "baseline was learned on almost nothing and its first busy hours are a surge by construction"
            )
        for handle, score in f.handle_scores:
            notes.append(
                f"VADER scores the handle {handle} alone at {score:+.2f}, so every tweet to it leans "
                f"{'positive' if score > 0 else 'negative'} (negative by VADER "
                f"{f.negative / max(f.mentions, 1):.0%}, by the hand labels "
                f"{f.labelled_negative / max(f.mentions, 1):.0%})"
            )
        note = "; ".join(notes)
        add(note[:1].upper() + note[1:] + ".")
        add("")
        if not own:
            add("Nothing raised.")
            add("")
            continue
        add("| kind | peak | opened | peak reached | resolved | lasted | levels |")
        add("|---|---|---|---|---|---|---|")
        for i in own:
            opened, resolved = parse_time(i.get("opened_at")), parse_time(i.get("resolved_at"))
            lasted = fmt_span(resolved - opened) if opened and resolved else "open at end of data"
            levels = " → ".join(str(c.get("level")) for c in i.get("levels", []))
            add(
                f"| {i.get('kind')} | {i.get('peak_level')} | {fmt_time(opened)} | "
                f"{fmt_time(peak_reached(i))} | {fmt_time(resolved)} | {lasted} | {levels} |"
            )
        add("")
        mine = [a for a in alerts if a.stream == name]
        for a in mine:
            reason = explain(a.change.get("why") or {})
            add(f"* **{a.change['level']} at {fmt_time(a.at)}** ({judgement(a)}): {reason}")
        if mine:
            add("")

    add("## Was the cancellation wave caught?")
    add("")
    for name in names:
        f = facts[name]
        if f.onset is None:
            continue
        wave = [a for a in alerts if a.stream == name and a.for_wave]
        text = (
            f"* **{f.display}**: reference onset {fmt_time(f.onset)} ({f.onset_threshold} “Cancelled "
            f"Flight” tweets within {hours} h). "
        )
        if wave:
            a = wave[0]
            text += (
                f"First warning/crisis {fmt_time(a.at)} ({a.change['level']}), {fmt_relative(a.at, f.onset)}"
            )
            text += (
                ", but with no more negatives than the same window on an ordinary day "
                f"({a.ordinary_text()}): weak evidence."
                if a.looks_ordinary
                else "."
            )
            if len(wave) > 1:
                text += f" {len(wave) - 1} more warning/crisis incident(s) followed."
        else:
            buzz = [
                i
                for i in incidents
                if i.get("stream") == name
                and i.get("kind") == "buzz"
                and (t := parse_time(i.get("opened_at"))) is not None
                and t >= f.onset - EARLY_CREDIT
            ]
            text += "**Not caught**: no warning or crisis from 12 h before the onset to the end of the data"
            text += f" (only {len(buzz)} buzz incident(s), which never page)." if buzz else ", and no buzz."
            if f.wave_expected > 0:
                share_up = f.wave_share >= 1.25 * f.share_at_onset and f.wave_share - f.share_at_onset >= 0.05
                text += (
                    f" Over the span below the negative share was {f.wave_share:.0%} against a usual "
                    f"{f.share_at_onset:.0%} at the onset ("
                    + (
                        "up as a crisis needs, on average over the span, but never together with a "
                        "surprising number of negatives on the same window"
                        if share_up
                        else "a crisis needs it at least 1.25× and 5 points above the usual: the "
                        "complaints grew in step with all mentions, which reads as a surge of the stream's "
                        "usual talk"
                    )
                    + ")."
                )
            text += topic_text(f)
        if f.wave_expected > 0:
            text += (
                f" From {EARLY_CREDIT.seconds // 3600} h before the onset to {WAVE_SPAN.days * 24} h after, "
                f"the radar counted {f.wave_seen:g} negatives and expected {f.wave_expected:g} "
                f"({f.wave_seen / f.wave_expected:.1f}×; an ordinary day of Feb 18–20 held "
                f"{f.ordinary_daily:g}; repeat posters damped)."
            )
        if f.reference_mentions < THIN_SAMPLE:
            text += (
                f" Caveat: the stream was hardly sampled before {fmt_time(f.first_busy_hour)}, so an "
                "alert then says that the sample started as much as that the airline was in trouble."
            )
        add(text)
    if not any(f.onset for f in facts.values()):
        add("No airline reached the reference threshold.")
    add("")

    add("## Alerts that look false")
    add("")
    false = [a for a in alerts if a.looks_false]
    before = sum(not a.for_wave for a in alerts)
    add(
        f"{len(alerts)} crisis incidents reached warning or crisis (the levels that post to Slack); "
        f"{len(false)} look false: {before} came before any wave, and "
        f"{sum(a.looks_ordinary for a in alerts)} had no more negatives than the same clock window on "
        "an ordinary day."
    )
    add("")
    if false:
        add(
            "| airline | at | level | before the wave | negatives in the window (radar expected) "
            "| same window, other days of Feb 18–20 | surging terms |"
        )
        add("|---|---|---|---|---|---|---|")
        for a in false:
            why = a.change.get("why") or {}
            terms = ", ".join(t["term"] for t in why.get("top_terms") or []) or "none"
            display = facts[a.stream].display if a.stream in facts else a.stream
            add(
                f"| {display} | {fmt_time(a.at)} | {a.change['level']} | {'yes' if not a.for_wave else 'no'} "
                f"| {a.negatives} in {why.get('window_minutes', '?')} min "
                f"({why.get('negative_expected', '?')}) | {a.ordinary_text()} | {terms} |"
            )
        add("")
    buzz_n = sum(i.get("kind") == "buzz" for i in incidents)
    add(
        f"Buzz incidents ({buzz_n}) are surges of all mentions without a rising negative share; they "
        "show on dashboards and never page, so they are not counted as alerts here."
    )
    add("")

    add("## Caveats about the data")
    add("")
    add(
        "* The tweets were sampled by keyword for a labelling job: volume is a rough stand-in for real "
        "mention volume, and how densely each airline was sampled changes over the days."
    )
    add(
        "* The file's “Delta” rows are tweets to @JetBlue (a known quirk of the Kaggle export); the "
        "stream keeps the preset's name `delta`."
    )
    add(
        "* “Cancelled Flight” is the export's replacement for “cancelled” (it also turns “late” into "
        "“Late Flight”); VADER still reads “Cancelled” as negative."
    )
    add("")
    return "\n".join(lines)


# -- the chart -------------------------------------------------------------------------------------
def plot(
    doc: dict[str, Any],
    facts: dict[str, StreamFacts],
    pipe: TracingPipeline,
    cancel_hours: dict[str, Counter[int]],
    path: Path,
) -> None:
    """Per airline: mentions, negatives, expected negatives, cancellation tweets; incidents shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = sorted(facts, key=lambda n: facts[n].display)
    fig, axes = plt.subplots(len(names), 1, figsize=(14, 2.6 * len(names)), sharex=True, squeeze=False)
    end = max((start for _, start in pipe.hours), default=0) + 3600
    for ax, name in zip(axes[:, 0], names, strict=True):
        f = facts[name]
        starts = sorted(start for n, start in pipe.hours if n == name)
        rows = [pipe.hours[(name, s)] for s in starts]
        x = [datetime.fromtimestamp(s, UTC) for s in starts]
        ax.fill_between(x, [r.mentions for r in rows], step="post", color="0.82", lw=0)
        ax.step(x, [r.negative for r in rows], where="post", color="#b2182b", lw=1.0)
        ax.step(x, [r.negative_expected for r in rows], where="post", color="0.15", lw=0.9, ls="--")
        ax.step(
            x, [cancel_hours.get(name, Counter())[s] for s in starts], where="post", color="#2166ac", lw=0.9
        )
        if f.learning_until and x:
            ax.axvspan(x[0], f.learning_until, color="0.5", alpha=0.12, lw=0)
        for incident in doc.get("incidents", []):
            if incident.get("stream") != name:
                continue
            changes = incident.get("levels", [])
            last = parse_time(incident.get("resolved_at")) or datetime.fromtimestamp(end, UTC)
            for k, change in enumerate(changes):
                level = change.get("level")
                t0 = parse_time(change.get("at"))
                t1 = parse_time(changes[k + 1].get("at")) if k + 1 < len(changes) else last
                if level not in LEVEL_COLORS or t0 is None or t1 is None:
                    continue
                if incident.get("kind") == "crisis":
                    ax.axvspan(t0, t1, color=LEVEL_COLORS[level], alpha=0.35, lw=0)
                elif incident.get("kind") == "buzz":
                    ax.axvspan(t0, t1, ymin=0.9, ymax=1.0, color="#1a9850", alpha=0.6, lw=0)
                else:
                    ax.axvspan(t0, t1, ymin=0.9, ymax=1.0, color="0.3", alpha=0.6, lw=0)
        if f.onset:
            ax.axvline(f.onset, color="#2166ac", ls=":", lw=1.4)
        n = sum(1 for i in doc.get("incidents", []) if i.get("stream") == name)
        ax.set_title(f"{f.display}: {f.mentions:,} mentions, {n} incidents", loc="left", fontsize=10)
        ax.set_ylabel("per hour")
        ax.set_ylim(bottom=0)
        ax.grid(axis="x", color="0.9")
    ax = axes[-1, 0]
    ax.xaxis.set_major_locator(mdates.DayLocator(tz=UTC))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d", tz=UTC))
    ax.set_xlabel("2015, UTC")
    handles = [
        Patch(color="0.82", label="mentions / h"),
        Line2D([], [], color="#b2182b", label="negative / h (VADER, as the radar scored them)"),
        Line2D(
            [], [], color="0.15", ls="--", label="negative / h the radar expected (repeat posters damped)"
        ),
        Line2D([], [], color="#2166ac", label="“Cancelled Flight” tweets / h"),
        Line2D([], [], color="#2166ac", ls=":", label="reference wave onset"),
        Patch(color="0.5", alpha=0.25, label="learning"),
        *(Patch(color=c, alpha=0.5, label=f"crisis incident: {lv}") for lv, c in LEVEL_COLORS.items()),
        Patch(color="#1a9850", alpha=0.6, label="buzz incident (top strip)"),
    ]
    fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- the run ---------------------------------------------------------------------------------------
def git_state() -> tuple[str, list[str], str]:
    """The commit, the paths under radar/, detectors/, alerts/ changed in the working tree, and a
    short sha256 of that change (so a report names the exact code it ran)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        status = git("status", "--porcelain", "--", "radar", "detectors", "alerts")
        diff = git("diff", "HEAD", "--", "radar", "detectors", "alerts")
    except (OSError, subprocess.CalledProcessError):
        return "", [], ""
    modified = sorted(line[3:] for line in status.splitlines() if line.strip())
    return commit, modified, hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else ""


def relative(path: Path) -> str:
    """``path`` relative to the repository when it is inside (or beside) it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        try:
            return "../" + str(path.resolve().relative_to(REPO.parent))
        except ValueError:
            return str(path)


def main(argv: list[str] | None = None) -> int:
    """Run both replays, write the report and the chart."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA, help="Tweets.csv (default: %(default)s)")
    p.add_argument("--config", type=Path, default=CONFIG, help="radar configuration")
    p.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where airline.md and airline.png go")
    p.add_argument("--workers", type=int, default=None, help="scoring workers (default: as radar backtest)")
    p.add_argument(
        "--incidents",
        type=Path,
        help="also write the backtest output here (it quotes tweets: not in the repo)",
    )
    args = p.parse_args(argv)
    started = time.perf_counter()
    if not args.data.exists():
        print(f"airline: no such file: {args.data}", file=sys.stderr)
        return 2
    config = load_config(args.config)
    workers = default_workers() if args.workers is None else args.workers
    mentions, rejected = load_mentions(args.data)

    as_stored = run_backtest(mentions, config, VaderScorer(), workers=workers)
    print(f"file order: {dict(as_stored.outcomes)}", file=sys.stderr)

    in_time = sorted(mentions, key=lambda m: m.created_at)  # stable: ties keep file order
    pipe = TracingPipeline(config, VaderScorer())
    t0 = time.perf_counter()
    result = run_backtest(in_time, config, VaderScorer(), pipeline=pipe, workers=workers)
    seconds = time.perf_counter() - t0
    doc = result.to_json()
    print(f"time order: {dict(result.outcomes)}; {len(doc['incidents'])} incidents", file=sys.stderr)
    if args.incidents:
        args.incidents.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    facts = stream_facts(config, in_time, load_labels(args.data), pipe)
    cancel_hours: dict[str, Counter[int]] = {}
    seen: set[str] = set()
    for m in in_time:
        if m.id not in seen and is_cancellation(m.text):
            for name in m.streams:
                cancel_hours.setdefault(name, Counter())[int(m.created_at.timestamp() // 3600) * 3600] += 1
        seen.add(m.id)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    plot(doc, facts, pipe, cancel_hours, args.out_dir / "airline.png")
    commit, modified, diff_sha = git_state()
    run = RunInfo(
        data=relative(args.data),
        config=relative(args.config),
        warmup_hours=config.detection.warmup_hours,
        workers=workers,
        seconds=seconds,
        commit=commit,
        modified=modified,
        diff_sha=diff_sha,
        outcomes=dict(result.outcomes),
        rejected=dict(rejected),
        file_order=dict(as_stored.outcomes),
        file_order_incidents=len(as_stored.pipeline.all_incidents()),
    )
    run.total_seconds = time.perf_counter() - started
    (args.out_dir / "airline.md").write_text(build_report(doc, facts, run), encoding="utf-8")
    print(
        f"wrote {args.out_dir / 'airline.md'} and airline.png in {run.total_seconds:.1f} s", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
