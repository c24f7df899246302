"""Event-time windows: mentions into per-stream buckets, closed by a watermark.

:class:`Windower` keeps, per stream, the buckets still open (default 1 minute each) and closes
every bucket whose end the watermark has passed, in time order, *including empty ones*: an empty
bucket is data (zero mentions), not a gap. The watermark is supplied by the caller (max event time
seen minus the allowed lateness in replays; the wall clock for idle streams in live mode), so the
windower never reads a clock. A mention for a bucket already closed is *late*: it is refused
(the caller counts it and keeps it on record) and never silently merged into history.

>>> w = Windower(bucket_seconds=60)
>>> w.add("acme", t=30.0, polarity=-1, weight=1.0, author="a", terms=["late"], post=None)
True
>>> [(b.stream, b.start, b.mentions, b.negative) for b in w.advance(180.0)]
[('acme', 0.0, 1, 1), ('acme', 60.0, 0, 0), ('acme', 120.0, 0, 0)]
>>> w.add("acme", t=90.0, polarity=0, weight=1.0, author="b", terms=[], post=None)
False
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

from detectors.surge import DEFAULT_WINDOWS

try:  # top_terms compiled (radar/_topterms.pyx): the same terms, less CPU
    from radar import _topterms
except ImportError:  # not built: the Python sorts
    _topterms = None  # type: ignore[assignment]

#: Most amplified posts kept per bucket, and terms kept per bucket.
TOP_POSTS = 3
TOP_TERMS = 25
#: A run of empty buckets longer than this (a stream without a mention for a week) is not closed
#: bucket by bucket: only its last ``GAP_TAIL_SECONDS`` are (the detectors' longest window, so their
#: windows hold zeros, not the data from before the gap); the rest is skipped and counted
#: (:meth:`Windower.skipped_count`). A week holds any real outage; closing years of buckets one by one
#: (a mention dated 1970 or 2099, a history export months old) would take hours.
MAX_GAP_SECONDS = 7 * 86_400
GAP_TAIL_SECONDS = max(DEFAULT_WINDOWS) * 60


class Post(NamedTuple):
    """A reference to an amplified post (for the why of an alert); ordered by amplification.

    A named tuple: made for every mention, so it must be cheap; ties in amplification are
    broken by id, which keeps the kept posts deterministic.
    """

    amplification: float
    id: str
    url: str
    author: str
    followers: int
    reshares: int
    text: str

    def to_json(self) -> dict[str, Any]:
        """The post as shown in alerts."""
        return {
            "id": self.id,
            "url": self.url,
            "author": self.author,
            "followers": self.followers,
            "reshares": self.reshares,
            "text": self.text[:280],
        }


@dataclass(slots=True)
class Bucket:
    """One stream's mentions in one event-time bucket ``[start, start + seconds)``.

    Read-only once closed (:meth:`Windower.advance` yields it): empty ones share their collections.
    """

    stream: str
    start: float  # epoch seconds
    seconds: int
    mentions: int = 0
    negative: int = 0
    positive: int = 0
    weighted: float = 0.0  # mentions, repeat posters damped (what detectors see)
    weighted_negative: float = 0.0
    reach: int = 0  # followers + reshares
    authors: set[str] = field(default_factory=set)
    terms: Counter[str] = field(default_factory=Counter)
    posts: list[Post] = field(default_factory=list)  # min-heap on amplification, TOP_POSTS long
    negative_posts: list[Post] = field(default_factory=list)  # the same, negative mentions only

    @property
    def end(self) -> float:
        """End of the bucket (exclusive), epoch seconds."""
        return self.start + self.seconds

    @property
    def unique_authors(self) -> int:
        """Distinct authors in the bucket."""
        return len(self.authors)

    def top_terms(self, n: int = TOP_TERMS) -> dict[str, int]:
        """The bucket's most frequent terms."""
        return top_terms(self.terms, n)

    def top_posts(self) -> list[Post]:
        """The bucket's most amplified posts, most amplified first."""
        return sorted(self.posts, reverse=True)


def top_terms(counts: Counter[str], n: int) -> dict[str, int]:
    """The ``n`` most frequent terms; ties go to the alphabetically first (deterministic)."""
    if _topterms is not None:
        top = _topterms.top_terms(counts, n)
        if top is not None:
            return top
    if len(counts) <= 8 * n:  # a bucket's few terms: by term, then by count (stable), is faster
        return dict(sorted(sorted(counts.items()), key=itemgetter(1), reverse=True)[:n])
    return dict(heapq.nsmallest(n, counts.items(), key=_rank))


def _rank(kv: tuple[str, int]) -> tuple[int, str]:
    return -kv[1], kv[0]


def _counter(counts: dict[str, int]) -> Counter[str]:
    """``Counter(counts)`` without ``Counter.__init__`` (which, into an empty Counter, is this)."""
    out: Counter[str] = Counter()
    dict.update(out, counts)
    return out


#: What every empty closed bucket holds: closed buckets are read-only, so one of each is enough.
#: (The usual bucket of a quiet stream is empty; a fresh Counter alone costs a microsecond.)
_NO_AUTHORS: set[str] = set()
_NO_TERMS: Counter[str] = Counter()
_NO_POSTS: list[Post] = []


def _empty(stream: str, start: float, seconds: int) -> Bucket:
    """A closed bucket that received no mention."""
    return Bucket(stream, start, seconds, 0, 0, 0, 0.0, 0.0, 0, _NO_AUTHORS, _NO_TERMS, _NO_POSTS, _NO_POSTS)


def _keep(heap: list[Post], post: Post) -> None:
    """Keep ``post`` in ``heap`` if it is among the ``TOP_POSTS`` most amplified."""
    if len(heap) < TOP_POSTS:
        heapq.heappush(heap, post)
    elif post.amplification > heap[0].amplification:
        heapq.heapreplace(heap, post)


@dataclass(slots=True)
class _StreamWindows:
    next_close: float  # start of the oldest bucket not yet closed
    open: dict[float, Bucket] = field(default_factory=dict)
    late: int = 0
    skipped: int = 0  # empty buckets never closed: all of a long gap but its last GAP_TAIL_SECONDS


class Windower:
    """Per-stream event-time buckets closed by a caller-supplied watermark.

    Parameters
    ----------
    bucket_seconds
        Bucket size in seconds (must divide an hour).
    """

    def __init__(self, bucket_seconds: int = 60) -> None:
        if bucket_seconds < 1 or 3600 % bucket_seconds:
            raise ValueError(f"bucket_seconds: {bucket_seconds} must be a positive divisor of 3600")
        self.bucket_seconds = bucket_seconds
        self._streams: dict[str, _StreamWindows] = {}
        self.watermark = float("-inf")

    @property
    def streams(self) -> list[str]:
        """Streams known to the windower."""
        return list(self._streams)

    def bucket_start(self, t: float) -> float:
        """Start of the bucket holding event time ``t``."""
        return t - (t % self.bucket_seconds)

    def late_count(self, stream: str) -> int:
        """Mentions refused as late for ``stream``."""
        s = self._streams.get(stream)
        return s.late if s else 0

    def skipped_count(self, stream: str) -> int:
        """Empty buckets of ``stream`` skipped in gaps longer than ``MAX_GAP_SECONDS``."""
        s = self._streams.get(stream)
        return getattr(s, "skipped", 0)  # unset in a checkpoint from before it existed

    def add(
        self,
        stream: str,
        *,
        t: float,
        polarity: int,
        weight: float,
        author: str,
        terms: list[str],
        post: Post | None,
        now: float = float("-inf"),
    ) -> bool:
        """Put one mention of ``stream`` at event time ``t`` in its bucket; False if too late.

        A new stream's first bucket is the mention's, or the watermark's if that is earlier; before
        any watermark, ``now`` (the caller's event time) plays its part, so that a first mention dated
        in the future does not make the present late for its stream.
        """
        start = self.bucket_start(t)
        windows = self._streams.get(stream)
        if windows is None:
            origin = self.watermark if self.watermark != float("-inf") else now
            first = start if origin == float("-inf") else min(start, self.bucket_start(origin))
            windows = self._streams[stream] = _StreamWindows(next_close=first)
        if start < windows.next_close:
            windows.late += 1
            return False
        bucket = windows.open.get(start)
        if bucket is None:
            bucket = windows.open[start] = Bucket(stream, start, self.bucket_seconds)
        bucket.mentions += 1
        bucket.weighted += weight
        if polarity < 0:
            bucket.negative += 1
            bucket.weighted_negative += weight
        elif polarity > 0:
            bucket.positive += 1
        if author:
            bucket.authors.add(author)
        bucket.terms.update(list(dict.fromkeys(terms)))  # once per mention, in text order
        if post is not None:
            bucket.reach += post.followers + post.reshares
            _keep(bucket.posts, post)
            if polarity < 0:
                _keep(bucket.negative_posts, post)
        return True

    def advance(self, watermark: float) -> Iterator[Bucket]:
        """Close every bucket that ends at or before ``watermark``, oldest first, all streams.

        Buckets of the same start are yielded together (one per stream), empty ones included.
        """
        if watermark <= self.watermark:
            return
        self.watermark = watermark
        size = self.bucket_seconds
        streams = self._streams
        while True:
            # the oldest bucket due (this runs for every stream at every tick: no list, one pass)
            start = min(
                (s.next_close for s in streams.values() if s.next_close + size <= watermark), default=None
            )
            if start is None:
                return
            end = start + size  # <= watermark: start is due
            far = watermark - start > MAX_GAP_SECONDS + size  # a gap longer than MAX_GAP may start here
            for name, windows in streams.items():
                if windows.next_close != start:
                    continue
                bucket = windows.open.pop(start, None)
                if bucket is None:
                    if far and self._skip_gap(windows, start, watermark):
                        continue
                    bucket = _empty(name, start, size)
                if len(bucket.terms) > TOP_TERMS:
                    bucket.terms = _counter(top_terms(bucket.terms, TOP_TERMS))
                windows.next_close = end
                yield bucket

    def _skip_gap(self, windows: _StreamWindows, start: float, watermark: float) -> bool:
        """When the stream's next mention (or the watermark) is more than ``MAX_GAP_SECONDS`` after
        ``start``, skip the empty buckets up to the last ``GAP_TAIL_SECONDS`` before it; True if so."""
        until = min(min(windows.open, default=watermark), watermark)
        if until - start <= MAX_GAP_SECONDS:
            return False
        resume = self.bucket_start(until - GAP_TAIL_SECONDS)
        windows.skipped = getattr(windows, "skipped", 0) + round((resume - start) / self.bucket_seconds)
        windows.next_close = resume
        return True
