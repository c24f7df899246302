"""Recent activity: what the why of an alert needs from a stream's last hours, and no more.

:class:`RecentActivity` keeps a stream's non-empty buckets of the last ``seconds`` (four hours by
default) as columns: each bucket's start and counts, and its top terms with their counts in flat
columns (the terms interned, as every bucket repeats most of them), instead of whole buckets with
their authors and posts, or an object per bucket (a summary tuple, a terms tuple and a counts array
cost about 230 bytes per bucket before its terms). Of the posts it keeps only those that can still be
among the ``TOP_POSTS`` most amplified of some trailing window: a post is dropped once ``TOP_POSTS``
more amplified posts have arrived in later buckets, since every trailing window that holds it also
holds them. Every query is over a trailing window (buckets starting at or after ``since``) and
answers exactly what the whole buckets would.

>>> from radar.windows import Windower
>>> w = Windower(bucket_seconds=60)
>>> for i, (amplification, polarity) in enumerate([(50.0, -1), (10.0, 0), (90.0, 0), (70.0, -1)]):
...     post = Post(amplification, f"p{i}", "", "", 0, 0, "")
...     _ = w.add("acme", t=i * 60.0, polarity=polarity, weight=1.0, author="", terms=["late"], post=post)
>>> recent = RecentActivity()
>>> for bucket in w.advance(240.0):
...     recent.add(bucket)
>>> recent.counts(since=60.0), recent.terms(since=60.0)
((3, 1), ({'late': 3}, 3))
>>> [p.id for p in recent.top_posts(since=0.0)], [p.id for p in recent.top_posts(0.0, negative=True)]
(['p2', 'p3', 'p0'], ['p3', 'p0'])
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import NamedTuple

from radar.windows import TOP_POSTS, Bucket, Post

#: Characters of a post's text kept (all that alerts show).
TEXT_CHARS = 280
#: Expired buckets cut off the columns at once.
CUT = 8


class BucketSummary(NamedTuple):
    """A closed, non-empty bucket as the why of an alert needs it."""

    start: float
    mentions: int
    negative: int
    positive: int
    terms: tuple[str, ...]  # the bucket's top terms ...
    counts: array[int]  # ... and how many of its mentions had each


class RecentActivity:
    """One stream's recent buckets (as columns) and candidate top posts.

    Parameters
    ----------
    seconds
        How far back, from the end of the newest bucket, buckets are kept.
    """

    def __init__(self, seconds: float = 4 * 3600.0) -> None:
        if seconds <= 0:
            raise ValueError(f"seconds: {seconds} must be positive")
        self.seconds = seconds
        # the non-empty buckets, oldest first: start, (mentions, negative, positive), how many terms
        self._starts = array("d")
        self._figures = array("I")  # three per bucket
        self._sizes = array("I")
        # the buckets' top terms and their counts, bucket after bucket
        self._terms: list[str] = []
        self._counts = array("I")
        # buckets (and their terms) at the front that have left the window: cut off in batches of
        # CUT, as a cut moves every entry kept after them
        self._expired = 0
        self._expired_terms = 0
        # (post, its bucket's start, more amplified posts in later buckets), least amplified first
        self._posts: list[tuple[Post, float, int]] = []
        self._negative_posts: list[tuple[Post, float, int]] = []
        self._oldest_post = math.inf  # the earliest bucket start among the kept posts

    def __iter__(self) -> Iterator[BucketSummary]:
        starts, figures, sizes, terms, counts = (
            self._starts,
            self._figures,
            self._sizes,
            self._terms,
            self._counts,
        )
        first = self._expired_terms
        for j in range(self._expired, len(starts)):
            end = first + sizes[j]
            m, n, p = figures[3 * j : 3 * j + 3]
            yield BucketSummary(starts[j], m, n, p, tuple(terms[first:end]), counts[first:end])
            first = end

    def __len__(self) -> int:
        return len(self._starts) - self._expired

    def add(self, bucket: Bucket) -> None:
        """Take the next closed bucket of the stream (an empty one only moves the horizon on)."""
        starts = self._starts
        if bucket.mentions:
            terms = bucket.terms
            starts.append(bucket.start)
            self._figures.extend((bucket.mentions, bucket.negative, bucket.positive))
            self._sizes.append(len(terms))
            self._terms.extend(map(sys.intern, terms))
            self._counts.extend(terms.values())
            if bucket.posts:
                _keep_candidates(self._posts, bucket.start, bucket.posts)
                _keep_candidates(self._negative_posts, bucket.start, bucket.negative_posts)
                if bucket.start < self._oldest_post:
                    self._oldest_post = bucket.start
        horizon = bucket.start + bucket.seconds - self.seconds
        expired = self._expired
        if expired < len(starts) and starts[expired] < horizon:
            sizes = self._sizes
            while expired < len(starts) and starts[expired] < horizon:
                self._expired_terms += sizes[expired]
                expired += 1
            self._expired = expired
            if expired >= CUT:
                self._cut()
        if self._oldest_post < horizon:
            self._posts = [c for c in self._posts if c[1] >= horizon]
            self._negative_posts = [c for c in self._negative_posts if c[1] >= horizon]
            kept = self._posts + self._negative_posts
            self._oldest_post = min((c[1] for c in kept), default=math.inf)

    def _cut(self) -> None:
        """Drop the expired buckets from the columns."""
        k, m = self._expired, self._expired_terms
        del self._starts[:k], self._figures[: 3 * k], self._sizes[:k], self._terms[:m], self._counts[:m]
        self._expired = self._expired_terms = 0

    def _first(self, since: float) -> int:
        """Index of the first kept bucket starting at or after ``since`` (the starts are ordered)."""
        return bisect_left(self._starts, since, self._expired)

    def counts(self, since: float) -> tuple[int, int]:
        """Mentions and negative mentions in the buckets starting at or after ``since``."""
        j = self._first(since)
        return sum(self._figures[3 * j :: 3]), sum(self._figures[3 * j + 1 :: 3])

    def terms(self, since: float) -> tuple[dict[str, int], int]:
        """The buckets' top terms summed, and their mentions, from ``since`` on."""
        j = self._first(since)
        first = sum(self._sizes[:j])
        terms: dict[str, int] = {}
        for term, count in zip(self._terms[first:], self._counts[first:], strict=True):
            terms[term] = terms.get(term, 0) + count
        return terms, sum(self._figures[3 * j :: 3])

    def has_negative_posts(self, since: float) -> bool:
        """Whether any negative post arrived from ``since`` on (the newest one is always kept)."""
        return any(start >= since for _post, start, _beaten in self._negative_posts)

    def top_posts(self, since: float, negative: bool = False) -> list[Post]:
        """The ``TOP_POSTS`` most amplified (negative) posts from ``since`` on, most amplified first."""
        top: list[Post] = []
        for post, start, _beaten in reversed(self._negative_posts if negative else self._posts):
            if start >= since:
                top.append(post)
                if len(top) == TOP_POSTS:
                    break
        return top


def _keep_candidates(kept: list[tuple[Post, float, int]], start: float, new: list[Post]) -> None:
    """Update ``kept`` (in place) for a bucket starting at ``start`` that brought the posts ``new``."""
    if not new:
        return
    beaten_by_new = bisect_left(kept, (max(new),))  # the candidates less amplified than a new post
    if beaten_by_new:
        ranked, n = sorted(new), len(new)
        still = []
        for post, at, beaten in kept[:beaten_by_new]:
            beaten += n - bisect_right(ranked, post)  # the new posts more amplified than it
            if beaten < TOP_POSTS:
                still.append((post, at, beaten))
        kept[:beaten_by_new] = still
    for post in new:
        if len(post.text) > TEXT_CHARS:  # never shown, and ids break every tie before the text
            post = post._replace(text=post.text[:TEXT_CHARS])
        insort(kept, (post, start, 0))
