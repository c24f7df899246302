"""Recent activity: what the why of an alert needs from a stream's last hours, and no more.

:class:`RecentActivity` keeps a stream's non-empty buckets of the last ``seconds`` (four hours by
default) as columns: each bucket's start and counts, and its top terms with their counts in flat
columns, instead of whole buckets with their authors and posts, or an object per bucket (a summary
tuple, a terms tuple and a counts array cost about 230 bytes per bucket before its terms). The terms
are numbers into :data:`TERMS`, the table of terms that every stream of the process shares (two bytes
a term where a reference costs eight, and every bucket repeats most of its stream's terms); a count of
1 (most of them, in a bucket of a few mentions) is implied, only the others are kept with their
places; every column holds the smallest integers that fit and widens when a value does not. Of the
posts it keeps only
those that can still be among the ``TOP_POSTS`` most amplified of some trailing window: a post is
dropped once ``TOP_POSTS`` more amplified posts have arrived in later buckets, since every trailing
window that holds it also holds them; each kept post is packed in one ``bytes`` object. Every query
is over a trailing window (buckets starting at or after ``since``) and answers exactly what the whole
buckets would.

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

import heapq
import math
import struct
import weakref
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from radar.windows import TOP_POSTS, Bucket, Post

try:  # RecentActivity.add compiled (radar/_recent.pyx): the same columns, less CPU
    from radar import _recent
except ImportError:  # not built: the Python code
    _recent = None  # type: ignore[assignment]

#: Characters of a post's text kept (all that alerts show).
TEXT_CHARS = 280
#: Expired buckets cut off the columns at once.
CUT = 8
#: Integer columns start with the smallest type and widen when a value does not fit.
_WIDER = {"B": "H", "H": "I", "I": "Q"}


class BucketSummary(NamedTuple):
    """A closed, non-empty bucket as the why of an alert needs it."""

    start: float
    mentions: int
    negative: int
    positive: int
    terms: tuple[str, ...]  # the bucket's top terms ...
    counts: array[int]  # ... and how many of its mentions had each


class TermTable:
    """Terms by number, shared by the recent activity of every stream of the process.

    Numbers go to new terms smallest free first. Uses are not counted (that would cost a step per term
    of every bucket): once the table has grown to twice the terms in use at the last sweep (and
    ``sweep_at`` at least), a new term starts a sweep, which forgets the terms that no registered
    holder keeps (in its ``_term_ids`` column) and frees their numbers.

    >>> table = TermTable()
    >>> table.acquire(["late", "refund", "late"])
    [0, 1, 0]
    >>> table.terms([1, 0])
    ['refund', 'late']
    >>> table.sweep()  # no holder keeps them
    >>> len(table), table.acquire(["crash"])
    (0, [0])
    """

    def __init__(self, sweep_at: int = 4096) -> None:
        self._numbers: dict[str, int] = {}
        self._terms: list[str] = []  # by number ("" when free)
        self._free: list[int] = []  # a heap
        self._holders: weakref.WeakSet[Any] = weakref.WeakSet()
        self._min_sweep = self._sweep_at = sweep_at

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_holders"}  # weak references do not pickle

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._holders = weakref.WeakSet()

    def __len__(self) -> int:
        return len(self._numbers)

    def __iter__(self) -> Iterator[str]:
        return iter(self._numbers)

    def __contains__(self, term: object) -> bool:
        return term in self._numbers

    def register(self, holder: Any) -> None:
        """Count the numbers in ``holder._term_ids`` (an integer array) as in use while it lives."""
        self._holders.add(holder)

    def acquire(self, terms: Iterable[str]) -> list[int]:
        """The numbers of ``terms`` (new ones added)."""
        terms = list(terms)
        numbers = self._numbers
        out: list[Any] = list(map(numbers.get, terms))
        if None in out:
            for k, number in enumerate(out):
                if number is None:
                    term = terms[k]
                    number = numbers.get(term)  # a new term twice in ``terms``
                    out[k] = self._new(term, out) if number is None else number
        return out

    def _new(self, term: str, pending: list[int | None]) -> int:
        if not self._free and len(self._terms) >= self._sweep_at:
            self.sweep(pending)
        if self._free:
            number = heapq.heappop(self._free)
            self._terms[number] = term
        else:
            number = len(self._terms)
            self._terms.append(term)
        self._numbers[term] = number
        return number

    def sweep(self, pending: Iterable[int | None] = ()) -> None:
        """Forget the terms that no holder keeps, but ``pending`` (numbers about to be kept)."""
        used = np.zeros(len(self._terms), dtype=bool)
        for holder in list(self._holders):
            column = holder._term_ids
            if len(column):
                used[np.frombuffer(column, dtype=f"u{column.itemsize}")] = True
        used[[i for i in pending if i is not None]] = True
        terms, numbers = self._terms, self._numbers
        for number in np.flatnonzero(~used).tolist():
            if terms[number]:
                del numbers[terms[number]]
                terms[number] = ""
                heapq.heappush(self._free, number)
        self._sweep_at = max(self._min_sweep, 2 * len(numbers))

    def terms(self, numbers: Iterable[int]) -> list[str]:
        """The terms of ``numbers``."""
        terms = self._terms
        return [terms[i] for i in numbers]


#: The terms of every stream's recent activity (counted per stream by the bench as shared state).
TERMS = TermTable()


def _extended(column: array[int], values: Sequence[int]) -> array[int]:
    """``column`` with ``values`` appended: the same array, or a wider one if a value does not fit."""
    n = len(column)
    try:
        column.extend(values)
        return column
    except OverflowError:
        del column[n:]  # what was appended before the value that did not fit
        return _extended(array(_WIDER[column.typecode], column), values)


def _whole_seconds(t: float) -> bool:
    """Whether ``t`` (a bucket start) fits a column of whole seconds (up to the year 2106)."""
    t = float(t)
    return t.is_integer() and 0 <= t < 2**32 and math.copysign(1.0, t) > 0  # not -0.0


def _narrowest(values: Iterable[int], typecode: str = "B") -> array[int]:
    """``values`` in the narrowest unsigned column that holds them."""
    return _extended(array(typecode), list(values))


#: What a :class:`RecentActivity` keeps, in the order its pickled state has always listed it.
_STATE = (
    "seconds",
    "_starts",
    "_figures",
    "_sizes",
    "_term_ids",
    "_other_at",
    "_other",
    "_expired",
    "_expired_terms",
    "_posts",
    "_negative_posts",
    "_oldest_post",
)


class RecentActivity:
    """One stream's recent buckets (as columns) and candidate top posts.

    Parameters
    ----------
    seconds
        How far back, from the end of the newest bucket, buckets are kept.
    """

    # slots, not a dict per stream (a few hundred bytes each); what is pickled is the same dict of them
    __slots__ = ("__weakref__", *_STATE)  # TERMS keeps its holders by weak reference

    def __init__(self, seconds: float = 4 * 3600.0) -> None:
        if seconds <= 0:
            raise ValueError(f"seconds: {seconds} must be positive")
        self.seconds = seconds
        # the non-empty buckets, oldest first: start (whole seconds while every start is one, as
        # buckets of whole minutes start), (mentions, negative, positive), how many terms
        self._starts: array[Any] = array("I")
        self._figures = array("B")  # three per bucket (widened when a figure does not fit)
        self._sizes = array("B")
        # the buckets' top terms (numbers into TERMS), bucket after bucket, and their counts: 1 but at
        # the places listed (in a bucket of a few mentions, most terms are in one of them)
        self._term_ids = array("H")
        self._other_at = array("H")
        self._other = array("B")
        # buckets (and their terms) at the front that have left the window: cut off in batches of
        # CUT, as a cut moves every entry kept after them
        self._expired = 0
        self._expired_terms = 0
        self._posts = _Candidates()
        self._negative_posts = _Candidates()
        self._oldest_post = math.inf  # the earliest bucket start among the kept posts
        TERMS.register(self)

    def __getstate__(self) -> dict[str, Any]:
        """The columns, with the terms themselves (the numbers are the process's own)."""
        state = {name: getattr(self, name) for name in _STATE}
        state["_terms"] = TERMS.terms(state.pop("_term_ids"))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled state, also one of checkpoint version 3 (terms kept as a list, counts as
        four-byte columns, posts as a list of ``(post, start, beaten)``)."""
        state = dict(state)
        if "_terms" not in state or "_starts" not in state:
            raise ValueError("recent activity of an unknown version (neither 3 nor 4)")
        terms = state.pop("_terms")
        for name, typecode in (("_figures", "B"), ("_sizes", "B")):
            column = state[name]
            if column.typecode == "I":  # version 3: narrowed
                state[name] = _narrowest(column, typecode)
        if "_counts" in state:  # version 3: every count
            counts = state.pop("_counts")
            state["_other_at"] = _narrowest([i for i, c in enumerate(counts) if c != 1], "H")
            state["_other"] = _narrowest(counts[i] for i in state["_other_at"])
            starts = state["_starts"]
            if all(_whole_seconds(s) for s in starts):
                state["_starts"] = array("I", map(int, starts))
        for name in ("_posts", "_negative_posts"):
            if isinstance(state[name], list):  # version 3
                state[name] = _Candidates.of(state[name])
        for name, value in state.items():
            if type(value) is array:  # no room to grow (an unpickled array has a fifth more)
                value = array(value.typecode, value)
            setattr(self, name, value)
        self._term_ids = _narrowest(TERMS.acquire(terms), "H")
        TERMS.register(self)

    def __iter__(self) -> Iterator[BucketSummary]:
        starts, figures, sizes = self._starts, self._figures, self._sizes
        first = self._expired_terms
        counts = self._counts(first)
        for j in range(self._expired, len(starts)):
            end = first + sizes[j]
            m, n, p = figures[3 * j : 3 * j + 3]
            terms = tuple(TERMS.terms(self._term_ids[first:end]))
            at = first - self._expired_terms
            yield BucketSummary(float(starts[j]), m, n, p, terms, array("I", counts[at : at + sizes[j]]))
            first = end

    def __len__(self) -> int:
        return len(self._starts) - self._expired

    def add(self, bucket: Bucket) -> None:
        """Take the next closed bucket of the stream (an empty one only moves the horizon on)."""
        if _recent is not None:
            _recent.add(self, bucket, TERMS, _extended, TOP_POSTS, TEXT_CHARS, CUT)
            return
        if bucket.mentions:
            terms, start = bucket.terms, bucket.start
            starts = self._starts
            if starts.typecode == "d":
                starts.append(start)
            elif _whole_seconds(start):
                starts.append(int(start))
            else:
                self._starts = array("d", starts)
                self._starts.append(start)
            self._figures = _extended(self._figures, (bucket.mentions, bucket.negative, bucket.positive))
            self._sizes = _extended(self._sizes, (len(terms),))
            first = len(self._term_ids)
            self._term_ids = _extended(self._term_ids, TERMS.acquire(terms))
            counts = list(terms.values())
            if counts.count(1) != len(counts):
                other = [(first + i, c) for i, c in enumerate(counts) if c != 1]
                self._other_at = _extended(self._other_at, [i for i, _c in other])
                self._other = _extended(self._other, [c for _i, c in other])
            if bucket.posts:
                packed: dict[int, bytes | Post] = {}  # a post among both the top and the negative ones
                self._posts.keep(bucket.start, bucket.posts, packed)
                self._negative_posts.keep(bucket.start, bucket.negative_posts, packed)
                if bucket.start < self._oldest_post:
                    self._oldest_post = bucket.start
        horizon = bucket.start + bucket.seconds - self.seconds
        starts, expired = self._starts, self._expired
        if expired < len(starts) and starts[expired] < horizon:
            sizes = self._sizes
            while expired < len(starts) and starts[expired] < horizon:
                self._expired_terms += sizes[expired]
                expired += 1
            self._expired = expired
            if expired >= CUT:
                self._cut()
        if self._oldest_post < horizon:
            self._posts.drop_before(horizon)
            self._negative_posts.drop_before(horizon)
            self._oldest_post = min(self._posts.oldest(), self._negative_posts.oldest())

    def _cut(self) -> None:
        """Drop the expired buckets from the columns."""
        k, m = self._expired, self._expired_terms
        del self._starts[:k], self._figures[: 3 * k], self._sizes[:k], self._term_ids[:m]
        gone = bisect_left(self._other_at, m)
        del self._other_at[:gone], self._other[:gone]
        if self._other_at:
            self._other_at = _narrowest([i - m for i in self._other_at], "H")
        self._expired = self._expired_terms = 0

    def _counts(self, first: int) -> list[int]:
        """The counts of the terms from the ``first``-th on."""
        counts = [1] * (len(self._term_ids) - first)
        j = bisect_left(self._other_at, first)
        for i, c in zip(self._other_at[j:], self._other[j:], strict=True):
            counts[i - first] = c
        return counts

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
        mentions = sum(self._figures[3 * j :: 3])
        if _recent is not None:
            summed = _recent.terms(self, first, TERMS._terms)
            if summed is not None:
                return summed, mentions
        names = TERMS.terms(self._term_ids[first:])
        terms: dict[str, int] = {}
        for term, count in zip(names, self._counts(first), strict=True):
            terms[term] = terms.get(term, 0) + count
        return terms, mentions

    def has_negative_posts(self, since: float) -> bool:
        """Whether any negative post arrived from ``since`` on (the newest one is always kept)."""
        return any(start >= since for start in self._negative_posts.starts)

    def top_posts(self, since: float, negative: bool = False) -> list[Post]:
        """The ``TOP_POSTS`` most amplified (negative) posts from ``since`` on, most amplified first."""
        return (self._negative_posts if negative else self._posts).top(since)


#: A packed post: followers, reshares and the UTF-8 lengths of its id, url and author, then the id,
#: url, author and text (lone surrogates kept, as a JSON source can deliver them).
_PACKED = struct.Struct("<qqHHH")


def _pack(post: Post) -> bytes | Post:
    """``post`` without its amplification in one ``bytes`` object, or itself if it does not pack."""
    _amplification, id_, url, author, followers, reshares, text = post
    if not (
        type(_amplification) is float
        and type(id_) is str
        and type(url) is str
        and type(author) is str
        and type(text) is str
        and type(followers) is int
        and type(reshares) is int
    ):
        return post
    i, u, a = (
        id_.encode("utf-8", "surrogatepass"),
        url.encode("utf-8", "surrogatepass"),
        author.encode("utf-8", "surrogatepass"),
    )
    try:
        head = _PACKED.pack(followers, reshares, len(i), len(u), len(a))
    except struct.error:  # a count beyond 64 bits, a field beyond 65,535 bytes
        return post
    return b"".join((head, i, u, a, text.encode("utf-8", "surrogatepass")))


def _unpack(amplification: float, packed: bytes | Post) -> Post:
    """The post that :func:`_pack` packed."""
    if not isinstance(packed, bytes):
        return packed
    followers, reshares, a, b, c = _PACKED.unpack_from(packed)
    i = _PACKED.size
    strings = [
        packed[i : i + a],
        packed[i + a : i + a + b],
        packed[i + a + b : i + a + b + c],
        packed[i + a + b + c :],
    ]
    id_, url, author, text = (s.decode("utf-8", "surrogatepass") for s in strings)
    return Post(amplification, id_, url, author, followers, reshares, text)


#: ``b -> min(b + 1, TOP_POSTS)`` for ``bytes.translate``: one more beating post for each candidate.
_ONE_MORE = bytes(min(b + 1, TOP_POSTS) for b in range(256))


class _Candidates:
    """Candidate top posts, least amplified first: ``(post, bucket start, more amplified posts in
    later buckets)`` in tuple order, as columns (the post packed, see :func:`_pack`)."""

    __slots__ = ("amplifications", "beaten", "packed", "starts")

    def __init__(self) -> None:
        self.amplifications = array("d")  # float(post.amplification): the order, but for ties
        self.starts = array("d")
        self.beaten = bytearray()  # < TOP_POSTS
        self.packed: list[bytes | Post] = []

    @classmethod
    def of(cls, kept: Iterable[tuple[Post, float, int]]) -> _Candidates:
        """Candidates from ``(post, start, beaten)`` in order (as version 3 checkpoints kept them)."""
        candidates = cls()
        for post, start, beaten in kept:
            candidates.amplifications.append(float(post.amplification))
            candidates.starts.append(start)
            candidates.beaten.append(beaten)
            candidates.packed.append(_pack(post))
        return candidates

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        for name, value in state[1].items():
            if type(value) is array:  # no room to grow (an unpickled array has a fifth more)
                value = array(value.typecode, value)
            setattr(self, name, value)

    def __len__(self) -> int:
        return len(self.packed)

    def post(self, j: int) -> Post:
        """The ``j``-th candidate post."""
        return _unpack(self.amplifications[j], self.packed[j])

    def _key(self, j: int) -> tuple[Post, float, int]:
        return self.post(j), self.starts[j], self.beaten[j]

    def _below(self, key: tuple[Any, ...]) -> int:
        """How many candidates are ordered before ``key`` (``bisect_left``); the amplifications order
        them unless equal (``float()`` keeps the order of unequal ones), the whole key then."""
        a = float(key[0].amplification)
        lo = bisect_left(self.amplifications, a)
        hi = bisect_right(self.amplifications, a, lo)
        while lo < hi and self._key(lo) < key:
            lo += 1
        return lo

    def _below_post(self, post: Post) -> int:
        """How many candidates hold a post ordered before ``post`` (``_below((post,))``)."""
        a = float(post.amplification)
        below = bisect_left(self.amplifications, a)
        if below < len(self.amplifications) and self.amplifications[below] == a:
            below = self._below((post,))  # a tie in amplification: the whole posts decide
        return below

    def _not_above(self, key: tuple[Any, ...]) -> int:
        """How many candidates are ordered before ``key`` or equal to it (``bisect_right``)."""
        a = float(key[0].amplification)
        lo = bisect_left(self.amplifications, a)
        hi = bisect_right(self.amplifications, a, lo)
        while lo < hi and not key < self._key(lo):
            lo += 1
        return lo

    def keep(self, start: float, new: list[Post], packed: dict[int, bytes | Post]) -> None:
        """Update for a bucket starting at ``start`` that brought the posts ``new``; ``packed``: the
        posts already packed for this bucket, by ``id()``."""
        if not new:
            return
        amplifications, beaten, starts, kept = self.amplifications, self.beaten, self.starts, self.packed
        top = max(new)
        a = float(top.amplification)
        beaten_by_new = bisect_left(amplifications, a)  # the candidates less amplified than a new post
        if beaten_by_new < len(amplifications) and amplifications[beaten_by_new] == a:
            beaten_by_new = self._below((top,))  # a tie in amplification: the whole posts decide
        if beaten_by_new:
            # each new post beats the candidates ordered below it: a prefix of them (one more each,
            # in C: a byte table), for a quiet bucket's one post as for a busy bucket's few
            for post in new:
                below = beaten_by_new if post is top else self._below_post(post)
                if below:
                    beaten[:below] = beaten[:below].translate(_ONE_MORE)
            dropped = []
            j = beaten.find(TOP_POSTS, 0, beaten_by_new)
            while j >= 0:
                dropped.append(j)
                j = beaten.find(TOP_POSTS, j + 1, beaten_by_new)
            for j in reversed(dropped):  # beaten TOP_POSTS times: never among the top again
                del amplifications[j], starts[j], beaten[j], kept[j]
        for original in new:
            post = original
            if len(post.text) > TEXT_CHARS:  # never shown, and ids break every tie before the text
                post = post._replace(text=post.text[:TEXT_CHARS])
            a = float(post.amplification)
            j = bisect_left(amplifications, a)
            if j < len(amplifications) and amplifications[j] == a:
                j = self._not_above((post, start, 0))  # a tie in amplification: the whole posts decide
            p = packed.get(id(original))  # the bucket holds the original all along: its id is its own
            if p is None:
                p = packed[id(original)] = _pack(post)
            amplifications.insert(j, a)
            starts.insert(j, start)
            beaten.insert(j, 0)
            kept.insert(j, p)

    def drop_before(self, horizon: float) -> None:
        """Forget the posts of buckets starting before ``horizon``."""
        keep = [j for j, start in enumerate(self.starts) if start >= horizon]
        if len(keep) < len(self.starts):
            self.amplifications = array("d", [self.amplifications[j] for j in keep])
            self.starts = array("d", [self.starts[j] for j in keep])
            self.beaten = bytearray(self.beaten[j] for j in keep)
            self.packed = [self.packed[j] for j in keep]

    def oldest(self) -> float:
        """The earliest bucket start among the candidates (infinity when none)."""
        return min(self.starts, default=math.inf)

    def top(self, since: float) -> list[Post]:
        """The ``TOP_POSTS`` most amplified posts of buckets from ``since`` on, most amplified first."""
        top: list[Post] = []
        starts = self.starts
        for j in range(len(starts) - 1, -1, -1):
            if starts[j] >= since:
                top.append(self.post(j))
                if len(top) == TOP_POSTS:
                    break
        return top
