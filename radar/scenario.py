"""Scenario: a synthetic mention stream for a few brands, with injected events and their truth.

Used by ``radar demo``, the tests and the benchmarks. A :class:`Scenario` holds the brands
(:class:`StreamProfile`) and the events injected into their conversation (:class:`ScenarioEvent`:
crises that must raise an alert, and look-alikes that must not: buzz, spam, a collector outage and
its backlog, a weekly newsletter spike, a blip). :meth:`Scenario.mentions` generates the mentions
lazily, in arrival order, as wire-format dicts (DESIGN §3) without ``stream`` or ``sentiment``:
the radar's matcher and scorer assign those, from the brand's name, handle or hashtag that every
text carries (:func:`stream_rules`) and from the text. :meth:`Scenario.truth` is exactly what was
injected. The same seed gives the same output, byte for byte.

The baseline is a Poisson-gamma process per stream: a smooth daily rhythm (about 0.2x at night,
1.6x in the late afternoon), a weekly one (weekends about 0.7x), a slow random level drift, a gamma
factor per 5-minute slot (overdispersion) and a few short natural clusters a day. Texts come from
the templates in :mod:`radar.phrases`.

>>> from datetime import UTC, datetime
>>> small = Scenario(datetime(2026, 3, 2, tzinfo=UTC), days=1, seed=3,
...                  streams=[StreamProfile("acme", "Acme Air", 0.5, 0.2)])
>>> first = next(small.mentions())
>>> first["id"], first["created_at"][:11], "stream" in first
('acme-0', '2026-03-02T', False)
>>> stream_rules(small)["acme"]["handles"]
['@AcmeAir']

Generate files from the command line with
``python -m radar.scenario --seed 7 --days 21 --out mentions.jsonl --truth truth.json``.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import itertools
import json
import math
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from radar.phrases import (
    BUZZ_TOPICS,
    CRISIS_TOPICS,
    FIRST_NAMES,
    FLIP_TOPICS,
    PROMO,
    SLOW_BURN_TOPICS,
    SPAM_WORDS,
    Phrasebook,
    Topic,
    author_handle,
    brand_handle,
    brand_hashtag,
    topic_by_key,
)

EVENT_KINDS = (
    "sudden_crisis",
    "slow_burn",
    "low_volume_crisis",
    "sentiment_flip",
    "buzz",
    "spam",
    "outage",
    "scheduled_spike",
    "blip",
)
#: Kinds that must raise an alert (warning or above).
CRISIS_KINDS = frozenset({"sudden_crisis", "slow_burn", "low_volume_crisis", "sentiment_flip"})
#: Kinds during which no warning is allowed (scheduled spikes only from their 3rd occurrence).
QUIET_KINDS = frozenset({"buzz", "spam", "outage", "blip"})
DEFAULT_START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday

_MINUTES_PER_DAY = 1440
_SOURCES = ("twitter", "twitter", "twitter", "twitter", "twitter", "bluesky", "bluesky", "bluesky")
_SOURCES_ALL = (*_SOURCES, "mastodon", "mastodon")
#: Hourly levels of the daily rhythm (UTC), normalised to a mean of 1 below.
_DAILY_ANCHORS = np.array(
    [0.42, 0.31, 0.25, 0.22, 0.21, 0.25, 0.38, 0.62, 0.9, 1.1, 1.22, 1.3,
     1.36, 1.38, 1.4, 1.45, 1.52, 1.6, 1.62, 1.56, 1.4, 1.14, 0.86, 0.6]
)  # fmt: skip
_WEEKLY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.72, 0.68])  # Monday .. Sunday
_PUBLIC_AUTHORS = 200_000  # crisis and buzz authors come partly from this wide pool
_SPAM_GID = 10**9  # author ids from here on are spam accounts
_MASK64 = (1 << 64) - 1


def _daily_curve() -> np.ndarray:
    """The daily rhythm per minute of the day: smooth, periodic, mean 1."""
    centres = np.arange(24) * 60.0 + 30.0  # each anchor holds at the middle of its hour
    minutes = np.arange(_MINUTES_PER_DAY) + 0.5
    curve = np.interp(minutes, centres, _DAILY_ANCHORS, period=_MINUTES_PER_DAY)
    kernel = np.ones(61) / 61.0  # a one-hour moving average smooths the corners
    padded = np.concatenate([curve[-30:], curve, curve[:30]])
    smooth = np.convolve(padded, kernel, mode="valid")
    return smooth / smooth.mean()


_DAILY = _daily_curve()


# -- the model ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamProfile:
    """One brand (stream) of a scenario.

    ``rate_per_min`` is the mean number of mentions a minute on a weekday (the daily rhythm has mean
    1, weekends are lower); ``negative_share`` and ``positive_share`` are the everyday shares of
    clearly negative and positive texts (the rest are neutral).
    """

    name: str
    display: str
    rate_per_min: float
    negative_share: float
    positive_share: float = 0.3

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", self.name):
            raise ValueError(f"name: {self.name!r} must be lower-case letters, digits, '-' or '_'")
        if not re.search(r"[A-Za-z]", self.display):
            raise ValueError(f"display: {self.display!r} must contain letters")
        if not (math.isfinite(self.rate_per_min) and 0 < self.rate_per_min <= 1000):
            raise ValueError(f"rate_per_min: {self.rate_per_min} must be in (0, 1000]")
        if not 0 <= self.negative_share <= 1:
            raise ValueError(f"negative_share: {self.negative_share} must be in [0, 1]")
        if not 0 <= self.positive_share <= 1 - self.negative_share:
            raise ValueError(f"positive_share: {self.positive_share} must be in [0, 1 - negative_share]")

    @property
    def handle(self) -> str:
        """The brand's handle in texts, e.g. ``@AcmeAir``."""
        return brand_handle(self.display)

    @property
    def hashtag(self) -> str:
        """The brand's hashtag in texts, e.g. ``#acmeair``."""
        return brand_hashtag(self.display)

    def to_json(self) -> dict[str, Any]:
        """The profile as a JSON object."""
        return {
            "name": self.name,
            "display": self.display,
            "handle": self.handle,
            "hashtag": self.hashtag,
            "rate_per_min": self.rate_per_min,
            "negative_share": self.negative_share,
            "positive_share": self.positive_share,
        }


@dataclass(frozen=True)
class ScenarioEvent:
    """One injected event. ``start`` is the onset, ``end`` when the stream is back to normal.

    ``must_alert``: a crisis, the radar must warn. ``quiet``: the radar must not warn. Neither: a
    warning is tolerated (the first two occurrences of a scheduled spike). ``params`` holds the
    event's shape (peak factor, negative share, ramp and decay minutes, topic ...); missing ones are
    drawn from the scenario's seed (see :class:`Scenario`).
    """

    id: str
    kind: str
    stream: str
    start: datetime
    end: datetime
    must_alert: bool
    quiet: bool
    occurrence: int = 1
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("id: must not be empty")
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"kind: {self.kind!r} is not one of {', '.join(EVENT_KINDS)}")
        for name in ("start", "end"):
            ts = getattr(self, name)
            if not isinstance(ts, datetime) or ts.utcoffset() is None:
                raise ValueError(f"{name}: {ts!r} must be a timezone-aware datetime")
        if self.end <= self.start:
            raise ValueError(f"end: {self.end.isoformat()} must be after start {self.start.isoformat()}")
        if self.must_alert and self.quiet:
            raise ValueError("quiet: an event cannot be both must_alert and quiet")
        if self.occurrence < 1:
            raise ValueError(f"occurrence: {self.occurrence} must be >= 1")

    @classmethod
    def make(
        cls,
        id: str,
        kind: str,
        stream: str,
        start: datetime,
        end: datetime,
        occurrence: int = 1,
        description: str = "",
        **params: Any,
    ) -> ScenarioEvent:
        """An event with ``must_alert`` and ``quiet`` set the usual way for its kind."""
        quiet = kind in QUIET_KINDS or (kind == "scheduled_spike" and occurrence > 2)
        return cls(id, kind, stream, start, end, kind in CRISIS_KINDS, quiet, occurrence, description, params)

    @property
    def minutes(self) -> float:
        """Duration in minutes."""
        return (self.end - self.start).total_seconds() / 60.0

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object (ISO 8601 timestamps with ``Z``)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "stream": self.stream,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "must_alert": self.must_alert,
            "quiet": self.quiet,
            "occurrence": self.occurrence,
            "description": self.description,
            "params": dict(self.params),
        }


@dataclass
class Scenario:
    """Brands, injected events and a seed: everything the generated stream depends on.

    Events without some ``params`` get them completed on construction from the seed, so
    :meth:`truth` always shows the full shape of what was injected.
    """

    start: datetime
    days: int
    seed: int
    streams: list[StreamProfile]
    events: list[ScenarioEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.start, datetime) or self.start.utcoffset() is None:
            raise ValueError(f"start: {self.start!r} must be a timezone-aware datetime")
        self.start = self.start.astimezone(UTC)
        if self.start.second or self.start.microsecond:
            raise ValueError(f"start: {self.start.isoformat()} must be on a whole minute")
        if not 1 <= self.days <= 366:
            raise ValueError(f"days: {self.days} must be in 1..366")
        if self.seed < 0:
            raise ValueError(f"seed: {self.seed} must be >= 0")
        if not self.streams:
            raise ValueError("streams: at least one stream is needed")
        names = [s.name for s in self.streams]
        if len(set(names)) != len(names):
            raise ValueError(f"streams: duplicate names in {names}")
        displays = [s.display.lower() for s in self.streams]
        if len(set(displays)) != len(displays):
            raise ValueError(f"streams: duplicate display names in {displays}")
        ids = [e.id for e in self.events]
        if len(set(ids)) != len(ids):
            raise ValueError("events: duplicate ids")
        completed = []
        for i, event in enumerate(self.events):
            if event.stream not in names:
                raise ValueError(f"events: {event.id} is on unknown stream {event.stream!r}")
            if not self.start <= event.start < self.end:
                raise ValueError(f"events: {event.id} starts outside the scenario")
            rng = np.random.default_rng([self.seed, 0x5CE7, i])
            completed.append(replace(event, params=_complete_params(event, rng)))
        self.events = completed
        for kind in ("outage", "sentiment_flip"):  # one of each at a time per stream
            spans = sorted((e.stream, e.start, e.end) for e in self.events if e.kind == kind)
            for (s1, _, e1), (s2, b2, _) in itertools.pairwise(spans):
                if s1 == s2 and b2 < e1:
                    raise ValueError(f"events: overlapping {kind} events on stream {s1!r}")

    @property
    def end(self) -> datetime:
        """When the scenario ends (exclusive)."""
        return self.start + timedelta(days=self.days)

    def mentions(self) -> Iterator[dict[str, Any]]:
        """The mentions in arrival order, generated lazily, one day per stream at a time.

        Every mention arrives in ``created_at`` order except the backlog of a collector outage
        (``"backlog": true``), which arrives in a burst right after the outage ends.
        """
        generators = [_StreamGenerator(self, i).records() for i in range(len(self.streams))]
        for _arrival, _stream, _seq, record in heapq.merge(*generators):
            yield record

    def truth(self) -> dict[str, Any]:
        """What was injected: seed, period, streams and events (JSON-ready)."""
        return {
            "seed": self.seed,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "days": self.days,
            "streams": [s.to_json() for s in self.streams],
            "events": [e.to_json() for e in self.events],
        }


def stream_rules(scenario: Scenario) -> dict[str, dict[str, list[str]]]:
    """Match rules per stream that assign every generated text to its stream (and only to it).

    Keywords are the display names ("Acme Air", to match case-insensitively as a phrase), handles
    carry their ``@`` and hashtags their ``#``.
    """
    return {
        s.name: {"keywords": [s.display], "handles": [s.handle], "hashtags": [s.hashtag]}
        for s in scenario.streams
    }


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- event shapes ---------------------------------------------------------------------------------------
def _complete_params(event: ScenarioEvent, rng: np.random.Generator) -> dict[str, Any]:
    """``event.params`` with the missing ones drawn from ``rng`` within the kind's ranges."""
    p = dict(event.params)
    minutes = event.minutes

    def put(key: str, value: Any) -> None:
        if key not in p:
            p[key] = round(float(value), 3) if isinstance(value, float | np.floating) else value

    def topic(pool: tuple[Topic, ...]) -> None:
        put("topic", pool[int(rng.integers(len(pool)))].key)

    kind = event.kind
    if kind == "sudden_crisis":
        put("peak", rng.uniform(4.0, 10.0))
        put("negative_share", rng.uniform(0.6, 0.8))
        put("ramp_min", rng.uniform(3.0, 6.0))
        put("decay_min", min(rng.uniform(30.0, 90.0), minutes / 3))
        put("viral_share", 0.01)
        topic(CRISIS_TOPICS)
    elif kind == "slow_burn":
        put("negative_factor", rng.uniform(2.7, 3.3))
        put("volume_factor", rng.uniform(1.5, 2.0))
        put("ramp_min", min(rng.uniform(240.0, 480.0), minutes * 0.7))
        put("decay_min", min(rng.uniform(60.0, 120.0), minutes * 0.2))
        topic(SLOW_BURN_TOPICS)
    elif kind == "low_volume_crisis":
        put("target_rate", rng.uniform(3.0, 5.0))
        put("negative_share", rng.uniform(0.75, 0.9))
        put("ramp_min", min(10.0, minutes / 4))
        put("decay_min", min(15.0, minutes / 4))
        topic(CRISIS_TOPICS)
    elif kind == "sentiment_flip":
        put("negative_share", rng.uniform(0.65, 0.75))
        put("ramp_min", min(10.0, minutes / 4))
        put("decay_min", min(20.0, minutes / 4))
        topic(FLIP_TOPICS)
    elif kind == "buzz":
        put("peak", rng.uniform(3.0, 8.0))
        put("ramp_min", min(rng.uniform(10.0, 20.0), minutes / 4))
        put("decay_min", min(rng.uniform(20.0, 40.0), minutes / 3))
        topic(BUZZ_TOPICS)
    elif kind == "spam":
        put("peak", rng.uniform(3.0, 6.0))
        put("accounts", int(rng.integers(3, 9)))
        put("ramp_min", 1.0)
        put("decay_min", 1.0)
    elif kind == "scheduled_spike":
        put("peak", rng.uniform(3.0, 5.0))
        put("ramp_min", 2.0)
        put("decay_min", minutes / 2)
        put("topic", PROMO.key)
    elif kind == "blip":
        put("peak", rng.uniform(1.5, 2.0))
        put("ramp_min", minutes / 3)
        put("decay_min", minutes / 3)
    return p


def _envelope(offset: np.ndarray, minutes: float, ramp: float, decay: float) -> np.ndarray:
    """0..1 per minute: linear ramp up over ``ramp``, plateau, linear decay over ``decay`` to the end."""
    x = offset + 0.5
    up = np.clip(x / max(ramp, 1e-9), 0.0, 1.0)
    down = np.clip((minutes - x) / max(decay, 1e-9), 0.0, 1.0)
    env = np.minimum(up, down)
    env[(x < 0) | (x > minutes)] = 0.0
    return env


# -- authors --------------------------------------------------------------------------------------------
def _mix64(x: int) -> int:
    """splitmix64 finaliser: a well-spread 64-bit hash of ``x``."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _author(seed: int, gid: int) -> tuple[str, int, str]:
    """Handle, followers and platform of author ``gid``: a pure function of the seed and the id."""
    h1 = _mix64(_mix64(seed) ^ gid)
    h2 = _mix64(h1)
    h3 = _mix64(h2)
    u1 = ((h1 >> 11) + 1) / 2.0**53
    u2 = (h2 >> 11) / 2.0**53
    u3 = (h3 >> 11) / 2.0**53
    z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    if gid >= _SPAM_GID:
        word = SPAM_WORDS[h3 % len(SPAM_WORDS)]
        name = FIRST_NAMES[(h3 >> 8) % len(FIRST_NAMES)]
        return f"{name}_{word}{gid % 1000}", int(3 + 60 * u3), "twitter"
    big = u3 < 0.004  # a few big accounts: journalists, influencers
    followers = math.exp(math.log(30_000.0) + 1.1 * z) if big else math.exp(math.log(300.0) + 1.5 * z)
    return author_handle(gid), int(min(followers, 2_000_000.0)), _SOURCES_ALL[h3 % len(_SOURCES_ALL)]


# -- generation -------------------------------------------------------------------------------------------
class _Channel:
    """Extra mentions of one kind: a rate per minute of the chunk and a maker of texts and authors."""

    def __init__(self, rate: np.ndarray) -> None:
        self.rate = rate

    def make(self, minute: int) -> tuple[str, int, float]:  # pragma: no cover - abstract
        raise NotImplementedError


class _Everyday(_Channel):
    """The everyday mix of a stream, optionally tilted negative by a sentiment flip."""

    def __init__(
        self, gen: _StreamGenerator, rate: np.ndarray, flip: tuple[np.ndarray, float, Topic] | None
    ) -> None:
        super().__init__(rate)
        self.gen = gen
        self.flip = flip

    def make(self, minute: int) -> tuple[str, int, float]:
        gen = self.gen
        book, rnd = gen.book, gen.rnd
        neg, pos = gen.profile.negative_share, gen.profile.positive_share
        u = rnd.random()
        if self.flip is not None and self.flip[0][minute] > 0:
            env, target, topic = self.flip[0][minute], self.flip[1], self.flip[2]
            tilted = neg + (target - neg) * env
            pos = pos * (1.0 - tilted) / max(1.0 - neg, 1e-9)
            if u < tilted:
                on_topic = rnd.random() < (tilted - neg) / tilted
                return (book.topic(topic, "negative") if on_topic else book.negative()), gen.regular(), 1.0
            if u >= tilted + pos and rnd.random() < 0.4 * env:
                return book.topic(topic, "neutral"), gen.regular(), 1.0
            neg = tilted
        if u < neg:
            return book.negative(), gen.regular(), 1.0
        if u < neg + pos:
            return book.positive(), gen.regular(), 1.0
        return book.neutral(), gen.regular(), 1.0


class _Topical(_Channel):
    """Mentions about a topic: shares of negative, neutral and positive topic texts, the rest everyday."""

    def __init__(
        self,
        gen: _StreamGenerator,
        rate: np.ndarray,
        topic: Topic,
        shares: tuple[float, float, float],
        broad: float,
        viral: float = 0.0,
    ) -> None:
        super().__init__(rate)
        self.gen = gen
        self.topic = topic
        self.negative, self.neutral, self.positive = shares
        self.broad = broad
        self.viral = viral

    def make(self, minute: int) -> tuple[str, int, float]:
        gen = self.gen
        rnd = gen.rnd
        author = rnd.randrange(_PUBLIC_AUTHORS) if rnd.random() < self.broad else gen.regular()
        boost = 1.0
        if self.viral and rnd.random() < self.viral:
            boost = 40.0 * math.exp(rnd.uniform(0.0, 2.5))  # a post that travels far
        u = rnd.random()
        if u < self.negative:
            return gen.book.topic(self.topic, "negative"), author, boost
        u -= self.negative
        if u < self.neutral:
            return gen.book.topic(self.topic, "neutral"), author, boost
        u -= self.neutral
        if u < self.positive:
            return gen.book.topic(self.topic, "positive"), author, boost
        return gen.book.neutral(), author, boost


class _Spam(_Channel):
    """A flood of near-identical promotional texts from a few accounts."""

    def __init__(self, gen: _StreamGenerator, rate: np.ndarray, accounts: list[int]) -> None:
        super().__init__(rate)
        self.gen = gen
        self.accounts = accounts

    def make(self, minute: int) -> tuple[str, int, float]:
        rnd = self.gen.rnd
        account = self.accounts[rnd.randrange(len(self.accounts))]
        code = f"{account % 1000:03d}{rnd.randrange(100)}"
        return self.gen.book.spam(code), account, 0.0


class _StreamGenerator:
    """Generates one stream's mentions, a day (1,440 minutes) at a time."""

    def __init__(self, scenario: Scenario, index: int) -> None:
        self.scenario = scenario
        self.index = index
        self.profile = profile = scenario.streams[index]
        self.events = [e for e in scenario.events if e.stream == profile.name]
        self.rng = np.random.default_rng([scenario.seed, 0x57E4, index])
        self.rnd = random.Random(int(self.rng.integers(2**62)))
        self.book = Phrasebook(profile.display, self.rnd)
        self._authors: dict[int, tuple[str, int, str]] = {}
        # regulars: a Zipf-like pool of a few thousand authors, some of whom post a lot
        pool_size = int(min(5000, 1500 + 500 * profile.rate_per_min))
        self.pool = self.rng.choice(_PUBLIC_AUTHORS, size=pool_size, replace=False).tolist()
        weights = 1.0 / (np.arange(pool_size) + 20.0)
        cumulative = np.cumsum(weights)
        self.cumulative = (cumulative / cumulative[-1]).tolist()
        # slow level drift: log-level Ornstein-Uhlenbeck per hour, 3-day memory, sd 0.12
        hours = scenario.days * 24 + 2
        a = math.exp(-1.0 / 72.0)
        noise = self.rng.normal(0.0, 0.12 * math.sqrt(1 - a * a), hours)
        level = np.empty(hours)
        level[0] = self.rng.normal(0.0, 0.12)
        for h in range(1, hours):
            level[h] = a * level[h - 1] + noise[h]
        self.drift = np.exp(level)
        self.phase = int(self.rng.integers(-45, 46))  # each audience's day is a little shifted
        self.start_minute = int(scenario.start.timestamp()) // 60

    def regular(self) -> int:
        """An everyday author, drawn Zipf-like from the stream's pool."""
        return int(self.pool[bisect.bisect_left(self.cumulative, self.rnd.random())])

    def author(self, gid: int) -> tuple[str, int, str]:
        info = self._authors.get(gid)
        if info is None:
            info = self._authors[gid] = _author(self.scenario.seed, gid)
        return info

    def expected(self, first: int, count: int) -> np.ndarray:
        """Normal rate (mentions a minute) for scenario minutes ``first .. first+count``."""
        rel = np.arange(first, first + count)
        absolute = self.start_minute + rel
        of_day = (absolute + self.phase) % _MINUTES_PER_DAY
        weekday = ((absolute // _MINUTES_PER_DAY) + 3) % 7  # 1970-01-01 was a Thursday
        drift = np.interp(rel / 60.0, np.arange(len(self.drift)), self.drift)
        rate: np.ndarray = self.profile.rate_per_min * _DAILY[of_day] * _WEEKLY[weekday] * drift
        return rate

    def _channels(self, first: int, count: int) -> tuple[list[_Channel], list[tuple[int, int]]]:
        rng = self.rng
        expected = self.expected(first, count)
        gamma = np.repeat(rng.gamma(20.0, 1.0 / 20.0, size=(count + 4) // 5), 5)[:count]
        clusters = np.ones(count)
        for _ in range(int(rng.poisson(2.0 * count / _MINUTES_PER_DAY))):
            at = int(rng.integers(count))
            clusters[at : at + int(rng.integers(3, 9))] *= rng.uniform(1.4, 2.2)
        base_rate = expected * gamma * clusters
        channels: list[_Channel] = []
        flip: tuple[np.ndarray, float, Topic] | None = None
        outages: list[tuple[int, int]] = []
        for event in self.events:
            onset = int((event.start - self.scenario.start).total_seconds() // 60)
            minutes = event.minutes
            if onset >= first + count or onset + minutes <= first:
                continue
            p = event.params
            offset = np.arange(first, first + count) - onset
            env = _envelope(offset, minutes, float(p.get("ramp_min", 0.0)), float(p.get("decay_min", 0.0)))
            kind = event.kind
            topic = topic_by_key(str(p["topic"])) if "topic" in p else None
            if kind == "sudden_crisis" and topic is not None:
                peak, share = float(p["peak"]), float(p["negative_share"])
                # the crisis channel's negative share that brings the whole stream to `share`
                neg = min(1.0, (share * peak - self.profile.negative_share) / (peak - 1.0))
                rate = (peak - 1.0) * expected * env
                shares = (neg, 0.6 * (1 - neg), 0.0)
                channels.append(_Topical(self, rate, topic, shares, 0.85, float(p["viral_share"])))
            elif kind == "slow_burn" and topic is not None:
                extra_neg = (float(p["negative_factor"]) - 1.0) * self.profile.negative_share
                extra = max(float(p["volume_factor"]) - 1.0, extra_neg)
                neg = extra_neg / extra
                rate = extra * expected * env
                channels.append(_Topical(self, rate, topic, (neg, 0.7 * (1 - neg), 0.0), 0.6, 0.003))
            elif kind == "low_volume_crisis" and topic is not None:
                neg = float(p["negative_share"])
                rate = np.maximum(float(p["target_rate"]) - expected, 0.0) * env
                channels.append(_Topical(self, rate, topic, (neg, 0.7 * (1 - neg), 0.0), 0.7, 0.01))
            elif kind == "sentiment_flip" and topic is not None:
                flip = (env, float(p["negative_share"]), topic)
            elif kind == "buzz" and topic is not None:
                rate = (float(p["peak"]) - 1.0) * expected * env
                channels.append(_Topical(self, rate, topic, (0.04, 0.24, 0.72), 0.6, 0.005))
            elif kind == "spam":
                rate = (float(p["peak"]) - 1.0) * expected * env
                first_id = _SPAM_GID + 10_000 * self.index + 10 * self.scenario.events.index(event)
                accounts = [first_id + k for k in range(int(p["accounts"]))]
                channels.append(_Spam(self, rate, accounts))
            elif kind == "scheduled_spike":
                rate = (float(p["peak"]) - 1.0) * expected * env
                channels.append(_Topical(self, rate, PROMO, (0.0, 0.55, 0.45), 0.0))
            elif kind == "blip":
                channels.append(_Everyday(self, (float(p["peak"]) - 1.0) * expected * env, None))
            elif kind == "outage":
                outages.append((onset * 60, int(onset * 60 + minutes * 60)))
        return [_Everyday(self, base_rate, flip), *channels], outages

    def records(self) -> Iterator[tuple[int, int, int, dict[str, Any]]]:
        """``(arrival second, stream index, sequence, mention)`` in arrival order."""
        name = self.profile.name
        total = self.scenario.days * _MINUTES_PER_DAY
        seq = 0  # mention number, in created_at order
        out = 0  # output order
        backlog: list[dict[str, Any]] = []
        release = 0  # arrival second of the held backlog (end of the outage)
        for first in range(0, total, _MINUTES_PER_DAY):
            count = min(_MINUTES_PER_DAY, total - first)
            channels, outages = self._channels(first, count)
            minutes_list, seconds_list, owners = [], [], []
            for c, channel in enumerate(channels):
                n_per_minute = self.rng.poisson(np.maximum(channel.rate, 0.0))
                mins = np.repeat(np.arange(count), n_per_minute)
                minutes_list.append(mins)
                seconds_list.append(self.rng.integers(0, 60, size=len(mins)))
                owners.append(np.full(len(mins), c))
            mins = np.concatenate(minutes_list)
            secs = np.concatenate(seconds_list)
            owner = np.concatenate(owners)
            order = np.argsort(mins * 60 + secs, kind="stable")
            mins_sorted = mins[order].tolist()
            secs_sorted = secs[order].tolist()
            owner_sorted = owner[order].tolist()
            texts, authors, boosts = [], [], []
            for m, c in zip(mins_sorted, owner_sorted, strict=True):
                text, gid, boost = channels[c].make(m)
                texts.append(text)
                authors.append(self.author(gid))
                boosts.append(boost)
            followers = np.array([a[1] for a in authors], dtype=float)
            reach = 0.05 * np.power(followers + 1.0, 0.65) * np.exp(self.rng.normal(0.0, 1.0, len(texts)))
            reach *= np.array(boosts)
            likes = self.rng.poisson(1.5 * reach).tolist()
            reshares = self.rng.poisson(0.2 * reach).tolist()
            prefix: dict[int, str] = {}
            for i, m in enumerate(mins_sorted):
                stamp = prefix.get(m)
                if stamp is None:
                    moment = datetime.fromtimestamp((self.start_minute + first + m) * 60, UTC)
                    stamp = prefix[m] = moment.strftime("%Y-%m-%dT%H:%M:")
                handle, n_followers, source = authors[i]
                mention_id = f"{name}-{seq}"
                seq += 1
                record: dict[str, Any] = {
                    "id": mention_id,
                    "created_at": f"{stamp}{secs_sorted[i]:02d}Z",
                    "text": texts[i],
                    "source": source,
                    "author": handle,
                    "author_followers": n_followers,
                    "reshares": reshares[i],
                    "likes": likes[i],
                    "lang": "en",
                    "url": f"https://example.social/{handle}/status/{mention_id}",
                }
                created = (first + m) * 60 + secs_sorted[i]
                if backlog and created >= release:
                    for held in backlog:
                        yield release, self.index, out, held
                        out += 1
                    backlog = []
                held_until = next((end for begin, end in outages if begin <= created < end), None)
                if held_until is not None:
                    record["backlog"] = True
                    backlog.append(record)
                    release = held_until
                    continue
                yield created, self.index, out, record
                out += 1
        for held in backlog:  # an outage running to the end of the scenario
            yield release, self.index, out, held
            out += 1


# -- ready-made scenarios -------------------------------------------------------------------------------
class _Planner:
    """Places events on streams at random, keeping a gap between events of the same stream."""

    def __init__(self, rng: np.random.Generator, start: datetime, days: int, gap_hours: float = 6.0) -> None:
        self.rng = rng
        self.start = start
        self.midnight = start.replace(hour=0, minute=0)  # hours of day are UTC clock hours
        self.days = days
        self.gap = timedelta(hours=gap_hours)
        self.taken: dict[str, list[tuple[datetime, datetime]]] = {}
        self.events: list[ScenarioEvent] = []

    def free(self, stream: str, start: datetime, end: datetime, gap: timedelta | None = None) -> bool:
        """Whether ``start .. end`` fits the scenario (ending 2 h early) and keeps ``gap`` on ``stream``."""
        if start < self.start or end > self.start + timedelta(days=self.days) - timedelta(hours=2):
            return False
        gap = self.gap if gap is None else gap
        return all(end + gap <= s or e + gap <= start for s, e in self.taken.get(stream, []))

    def add(
        self, kind: str, stream: str, start: datetime, minutes: float, occurrence: int = 1, **params: Any
    ) -> None:
        end = start + timedelta(minutes=round(minutes))
        self.taken.setdefault(stream, []).append((start, end))
        self.events.append(ScenarioEvent.make("?", kind, stream, start, end, occurrence, "", **params))

    def place(
        self,
        kind: str,
        stream: str,
        minutes: float,
        days: tuple[float, float],
        hours: tuple[int, int],
        **params: Any,
    ) -> None:
        """Put an event of ``minutes`` on ``stream``, starting ``days`` after the scenario's start
        (a range) at ``hours`` of the UTC day; when that is crowded, with a smaller gap, at any hour."""
        earliest = self.start + timedelta(days=days[0])
        latest = self.start + timedelta(days=days[1])
        first_day, last_day = (earliest - self.midnight).days, (latest - self.midnight).days
        for attempt in range(3000):
            relax = attempt // 1000
            gap = self.gap / (1, 3, 12)[relax]
            low, high = hours if relax < 2 else (0, 24)
            day = int(self.rng.integers(first_day, last_day + 1))
            minute = int(self.rng.integers(low * 12, high * 12)) * 5
            start = self.midnight + timedelta(days=day, minutes=minute)
            end = start + timedelta(minutes=minutes)
            if earliest <= start <= latest and self.free(stream, start, end, gap):
                self.add(kind, stream, start, minutes, **params)
                return
        raise ValueError(f"days: no room for a {kind} event on {stream!r} in a {self.days}-day scenario")

    def finish(self, seed: int, streams: list[StreamProfile]) -> list[ScenarioEvent]:
        """The events in time order, numbered e1, e2 ..., with their shapes drawn and described."""
        displays = {s.name: s.display for s in streams}
        ordered = sorted(self.events, key=lambda e: (e.start, e.stream, e.kind))
        out = []
        for i, event in enumerate(ordered, start=1):
            params = _complete_params(event, np.random.default_rng([seed, 0xE7E, i]))
            event = replace(event, id=f"e{i}", params=params)
            out.append(replace(event, description=_describe(event, displays[event.stream])))
        return out


def _describe(event: ScenarioEvent, display: str) -> str:
    p = event.params
    hours = f"{event.minutes / 60:.1f} h"
    about = f" about {p['topic']}" if "topic" in p else ""
    if event.kind == "sudden_crisis":
        term = topic_by_key(str(p["topic"])).term
        return (
            f"sudden crisis on {display}{about} (top term {term!r}): volume up to {p['peak']:.1f}x within "
            f"{p['ramp_min']:.0f} min, {p['negative_share']:.0%} negative, {hours} with the decay"
        )
    if event.kind == "slow_burn":
        return (
            f"slow burn on {display}{about}: negatives rise to {p['negative_factor']:.1f}x over "
            f"{p['ramp_min'] / 60:.1f} h, volume up to {p['volume_factor']:.1f}x, {hours} in all"
        )
    if event.kind == "low_volume_crisis":
        return (
            f"low-volume crisis on {display}{about}: {p['target_rate']:.1f} mentions/min, "
            f"{p['negative_share']:.0%} of the extra negative, {hours}"
        )
    if event.kind == "sentiment_flip":
        share = p["negative_share"]
        return f"sentiment flip on {display}{about}: same volume, {share:.0%} negative for {hours}"
    if event.kind == "buzz":
        return f"positive buzz on {display}{about}: volume up to {p['peak']:.1f}x for {hours}, not a crisis"
    if event.kind == "spam":
        return f"spam flood on {display} from {p['accounts']} accounts, {p['peak']:.1f}x volume for {hours}"
    if event.kind == "outage":
        return f"collector outage for {display}: nothing arrives for {hours}, then the backlog in a burst"
    if event.kind == "scheduled_spike":
        return (
            f"weekly newsletter spike on {display}, occurrence {event.occurrence}: {p['peak']:.1f}x for "
            f"{event.minutes:.0f} min"
        )
    return f"blip on {display}: {p['peak']:.1f}x for {event.minutes:.0f} min, nothing to alert on"


def default_scenario(
    seed: int = 7, days: int = 21, start: datetime | None = None, volume: float = 1.0
) -> Scenario:
    """Four brands over ``days`` (>= 7) days with every kind of event, for tests and benchmarks.

    No event in the first 3 days (the detectors learn), crises in the second half, a weekly
    newsletter spike at the same weekday and time every week, a 2-3 hour collector outage.
    ``volume`` multiplies every stream's everyday rate (10: brands ten times as talked about).
    """
    if days < 7:
        raise ValueError(f"days: {days} must be >= 7 (3 days of learning, then events)")
    if not 0 < volume <= 100:
        raise ValueError(f"volume: {volume} must be in (0, 100]")
    start = DEFAULT_START if start is None else start
    streams = [
        StreamProfile("acme", "Acme Air", 5.5 * volume, 0.22, 0.28),
        StreamProfile("nimbus", "Nimbus Mobile", 2.0 * volume, 0.25, 0.25),
        StreamProfile("fernwood", "Fernwood Foods", 1.4 * volume, 0.16, 0.34),
        StreamProfile("kestrel", "Kestrel Bikes", 0.4 * volume, 0.2, 0.32),
    ]
    rng = np.random.default_rng([seed, 0xDEF])
    plan = _Planner(rng, start.astimezone(UTC), days)
    # the weekly newsletter: a Thursday or Friday, every week from the first one after day 3
    weekday = int(rng.integers(3, 5))
    first = (weekday - plan.midnight.weekday()) % 7
    at = timedelta(days=first, hours=int(rng.integers(9, 12)), minutes=int(rng.integers(0, 4)) * 15)
    while plan.midnight + at < plan.start + timedelta(days=3):
        at += timedelta(days=7)
    if not plan.free("fernwood", plan.midnight + at, plan.midnight + at + timedelta(minutes=40)):
        at -= timedelta(days=7)  # a short scenario: the first day after the learning days instead
        while plan.midnight + at < plan.start + timedelta(days=3):
            at += timedelta(days=1)
    spike_minutes = float(rng.integers(20, 41))
    spike_peak = round(float(rng.uniform(3.0, 5.0)), 3)
    occurrence = 0
    spike = plan.midnight + at
    while plan.free("fernwood", spike, spike + timedelta(minutes=spike_minutes)):
        occurrence += 1
        plan.add("scheduled_spike", "fernwood", spike, spike_minutes, occurrence, peak=spike_peak)
        spike += timedelta(days=7)
    half = days / 2
    late = (half, days - 0.5)
    anytime = (3.0, days - 0.5)
    topics = [CRISIS_TOPICS[int(i)].key for i in rng.permutation(len(CRISIS_TOPICS))]
    plan.place("sudden_crisis", "acme", rng.uniform(150, 420), late, (8, 18), topic=topics[0])
    plan.place("slow_burn", "nimbus", rng.uniform(420, 600), late, (6, 11))
    plan.place("low_volume_crisis", "kestrel", rng.uniform(60, 180), late, (9, 19), topic=topics[1])
    plan.place("sentiment_flip", "fernwood", rng.uniform(120, 240), late, (9, 18))
    plan.place("outage", "acme", rng.uniform(120, 180), anytime, (8, 19))
    # few enough accounts that each posts several times a minute
    spam = {"peak": round(float(rng.uniform(4.0, 6.0)), 3), "accounts": int(rng.integers(3, 6))}
    plan.place("spam", "acme", rng.uniform(30, 90), anytime, (9, 20), **spam)
    plan.place("blip", "acme", rng.uniform(10, 20), anytime, (8, 21))
    plan.place("buzz", "nimbus", rng.uniform(60, 180), anytime, (10, 19))
    plan.place("blip", "nimbus", rng.uniform(10, 20), anytime, (8, 21))
    plan.place("buzz", "fernwood", rng.uniform(60, 180), anytime, (10, 19))
    plan.place("blip", "kestrel", rng.uniform(10, 20), anytime, (9, 20))
    return Scenario(plan.start, days, seed, streams, plan.finish(seed, streams))


def demo_scenario(seed: int = 1) -> Scenario:
    """Three brands over 4 days for ``radar demo``: a buzz on day 3, a sudden crisis late on day 4.

    The crisis is over about 2 hours before the scenario ends; about 30k mentions in all.
    """
    streams = [
        StreamProfile("acme", "Acme Air", 3.0, 0.22, 0.28),
        StreamProfile("nimbus", "Nimbus Mobile", 1.5, 0.25, 0.25),
        StreamProfile("fernwood", "Fernwood Foods", 0.8, 0.16, 0.34),
    ]
    rng = np.random.default_rng([seed, 0xDE70])
    plan = _Planner(rng, DEFAULT_START, 4, gap_hours=2.0)
    crisis_minutes = float(rng.uniform(150, 210))
    crisis_end = DEFAULT_START + timedelta(days=3, hours=22)
    crisis_start = crisis_end - timedelta(minutes=round(crisis_minutes / 5) * 5)
    plan.add("sudden_crisis", "acme", crisis_start, (crisis_end - crisis_start).total_seconds() / 60)
    plan.place("buzz", "nimbus", rng.uniform(60, 120), (2.0, 2.9), (11, 16))
    return Scenario(DEFAULT_START, 4, seed, streams, plan.finish(seed, streams))


def write_scenario(scenario: Scenario, mentions_path: Path, truth_path: Path | None) -> int:
    """Write the mentions as JSONL (and the truth as JSON); returns the number of mentions."""
    mentions_path = Path(mentions_path)
    count = 0
    with mentions_path.open("w", encoding="utf-8", newline="\n") as fh:
        lines: list[str] = []
        for record in scenario.mentions():
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            if len(lines) >= 4096:
                fh.write("\n".join(lines) + "\n")
                count += len(lines)
                lines = []
        if lines:
            fh.write("\n".join(lines) + "\n")
            count += len(lines)
    if truth_path is not None:
        truth = scenario.truth()
        truth["mentions"] = count
        Path(truth_path).write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return count


def main(argv: list[str] | None = None) -> int:
    """``python -m radar.scenario``: write a generated scenario (mentions JSONL, truth JSON)."""
    parser = argparse.ArgumentParser(prog="python -m radar.scenario", description="Write a scenario.")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--days", type=int, default=21, help="length in days, >= 7 (default 21)")
    parser.add_argument("--start", help="start, ISO 8601 UTC on a whole minute (default 2026-03-02T00:00Z)")
    parser.add_argument("--demo", action="store_true", help="the small demo scenario (ignores --days)")
    parser.add_argument("--out", type=Path, required=True, help="mentions JSONL to write")
    parser.add_argument("--truth", type=Path, help="truth JSON to write (the injected events)")
    args = parser.parse_args(argv)
    try:
        if args.demo:
            scenario = demo_scenario(args.seed)
        else:
            start = None
            if args.start:
                start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
                if start.tzinfo is None:
                    start = start.replace(tzinfo=UTC)
            scenario = default_scenario(args.seed, args.days, start)
    except ValueError as exc:
        parser.error(str(exc))
    count = write_scenario(scenario, args.out, args.truth)
    print(f"{count:,} mentions written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
