"""Recent activity: what the why of an alert needs from a stream's last hours, and no more.

:class:`RecentActivity` keeps a stream's non-empty buckets of the last ``seconds`` (four hours by
default) as small :class:`BucketSummary` records (start, counts, top terms with their counts; the
terms interned, as every bucket repeats most of them) instead of whole buckets with their authors
and posts. Of the posts it keeps only those that can still be among the ``TOP_POSTS`` most amplified
of some trailing window: a post is dropped once ``TOP_POSTS`` more amplified posts have arrived in
later buckets, since every trailing window that holds it also holds them. Every query is over a
trailing window (buckets starting at or after ``since``) and answers exactly what the whole buckets
would.

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
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

from radar.windows import TOP_POSTS, Bucket, Post

#: Characters of a post's text kept (all that alerts show).
TEXT_CHARS = 280


class BucketSummary(NamedTuple):
    """A closed, non-empty bucket as the why of an alert needs it."""

    start: float
    mentions: int
    negative: int
    positive: int
    terms: tuple[str, ...]  # the bucket's top terms ...
    counts: array[int]  # ... and how many of its mentions had each


class RecentActivity:
    """One stream's recent buckets (summaries) and candidate top posts.

    Parameters
    ----------
    seconds
        How far back, from the end of the newest bucket, buckets are kept.
    """

    def __init__(self, seconds: float = 4 * 3600.0) -> None:
        if seconds <= 0:
            raise ValueError(f"seconds: {seconds} must be positive")
        self.seconds = seconds
        self._buckets: deque[BucketSummary] = deque()
        # (post, its bucket's start, more amplified posts in later buckets), least amplified first
        self._posts: list[tuple[Post, float, int]] = []
        self._negative_posts: list[tuple[Post, float, int]] = []
        self._oldest_post = math.inf  # the earliest bucket start among the kept posts

    def __iter__(self) -> Iterator[BucketSummary]:
        return iter(self._buckets)

    def __len__(self) -> int:
        return len(self._buckets)

    def add(self, bucket: Bucket) -> None:
        """Take the next closed bucket of the stream (an empty one only moves the horizon on)."""
        if bucket.mentions:
            terms = bucket.terms
            self._buckets.append(
                BucketSummary(
                    bucket.start,
                    bucket.mentions,
                    bucket.negative,
                    bucket.positive,
                    tuple(map(sys.intern, terms)),
                    array("I", terms.values()),
                )
            )
            if bucket.posts:
                _keep_candidates(self._posts, bucket.start, bucket.posts)
                _keep_candidates(self._negative_posts, bucket.start, bucket.negative_posts)
                self._oldest_post = min(self._oldest_post, bucket.start)
        horizon = bucket.end - self.seconds
        buckets = self._buckets
        while buckets and buckets[0].start < horizon:
            buckets.popleft()
        if self._oldest_post < horizon:
            self._posts = [c for c in self._posts if c[1] >= horizon]
            self._negative_posts = [c for c in self._negative_posts if c[1] >= horizon]
            kept = self._posts + self._negative_posts
            self._oldest_post = min((c[1] for c in kept), default=math.inf)

    def counts(self, since: float) -> tuple[int, int]:
        """Mentions and negative mentions in the buckets starting at or after ``since``."""
        mentions = negative = 0
        for b in self._buckets:
            if b.start >= since:
                mentions += b.mentions
                negative += b.negative
        return mentions, negative

    def terms(self, since: float) -> tuple[dict[str, int], int]:
        """The buckets' top terms summed, and their mentions, from ``since`` on."""
        terms: dict[str, int] = {}
        total = 0
        for b in self._buckets:
            if b.start >= since:
                total += b.mentions
                for term, count in zip(b.terms, b.counts, strict=True):
                    terms[term] = terms.get(term, 0) + count
        return terms, total

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
        still = []
        for post, at, beaten in kept[:beaten_by_new]:
            beaten += sum(1 for q in new if q > post)
            if beaten < TOP_POSTS:
                still.append((post, at, beaten))
        kept[:beaten_by_new] = still
    for post in new:
        if len(post.text) > TEXT_CHARS:  # never shown, and ids break every tie before the text
            post = post._replace(text=post.text[:TEXT_CHARS])
        insort(kept, (post, start, 0))
