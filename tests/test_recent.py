"""Recent activity: the compact record answers every trailing window as the whole buckets would."""

from __future__ import annotations

import gc
import pickle
import random
from array import array
from collections import Counter

import pytest

from radar import recent as recent_module
from radar.recent import CUT, TEXT_CHARS, RecentActivity, TermTable
from radar.windows import TOP_POSTS, Bucket, Post, Windower

SECONDS = 4 * 3600.0


def _whole_buckets(buckets: list[Bucket], since: float, negative: bool) -> tuple[object, ...]:
    """The reference: what the pipeline computed from whole buckets before the summaries."""
    window = [b for b in buckets if b.start >= since]
    terms: dict[str, int] = {}
    for b in window:
        for term, count in b.terms.items():
            terms[term] = terms.get(term, 0) + count
    pool = (p for b in window for p in (b.negative_posts if negative else b.posts))
    return (
        (sum(b.mentions for b in window), sum(b.negative for b in window)),
        (terms, sum(b.mentions for b in window)),
        any(b.negative_posts for b in window),
        [p.to_json() for p in sorted(pool, reverse=True)[:TOP_POSTS]],
    )


def _summaries(recent: RecentActivity, since: float, negative: bool) -> tuple[object, ...]:
    return (
        recent.counts(since),
        recent.terms(since),
        recent.has_negative_posts(since),
        [p.to_json() for p in recent.top_posts(since, negative)],
    )


@pytest.mark.parametrize("seed", range(8))
def test_every_trailing_window_matches_the_whole_buckets(seed: int) -> None:
    rng = random.Random(seed)
    w = Windower(60)
    recent = RecentActivity(SECONDS)
    kept: list[Bucket] = []
    rate = rng.choice([0.05, 0.5, 3.0])  # mentions per minute
    serial = 0
    for minute in range(8 * 60):
        for _ in range(int(rng.expovariate(1.0 / rate)) if rng.random() < 0.7 else 0):
            serial += 1
            amplification = float(rng.choice([1, 5, 5, 20, 100, rng.randint(0, 10_000)]))  # ties too
            text = "x" * rng.choice([10, TEXT_CHARS + 50])
            post = Post(amplification, f"m{serial}", f"u/{serial}", f"a{serial % 7}", 3, 1, text)
            terms = rng.sample(["late", "refund", "crash", "hold", "app", "love", "fee", "delay"], 3)
            polarity = rng.choice([-1, 0, 1])
            w.add(
                "s",
                t=minute * 60.0 + rng.random() * 59,
                polarity=polarity,
                weight=1.0,
                author="a",
                terms=terms,
                post=post,
            )
        for bucket in w.advance((minute + 1) * 60.0):
            recent.add(bucket)
            if bucket.mentions:
                kept.append(bucket)
            kept = [b for b in kept if b.start >= bucket.end - SECONDS]
            end = bucket.end
            for minutes in (1, 5, 15, 60, 240, rng.randint(1, 240)):
                since = end - minutes * 60
                for negative in (False, True):
                    assert _summaries(recent, since, negative) == _whole_buckets(kept, since, negative)
    assert [(b.start, b.mentions, b.negative, b.positive) for b in recent] == [
        (b.start, b.mentions, b.negative, b.positive) for b in kept
    ]


def test_seconds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="seconds"):
        RecentActivity(0)


def _bucket(start: float, terms: dict[str, int], posts: list[Post], mentions: int = 0) -> Bucket:
    b = Bucket("s", start, 60)
    b.mentions = mentions or max([1, *terms.values()])
    b.negative = b.positive = b.mentions // 3
    b.terms = Counter(terms)
    b.posts = list(posts)
    b.negative_posts = list(posts[:1])
    return b


def test_large_counts_and_figures_widen_their_columns() -> None:
    recent = RecentActivity(SECONDS)
    recent.add(_bucket(0.0, {"late": 3, "refund": 1}, []))
    recent.add(_bucket(60.0, {"late": 300, "crash": 70_000}, [], mentions=100_000))
    recent.add(_bucket(120.0, {"late": 2}, []))
    assert recent.counts(0.0) == (100_000 + 3 + 2, 33_333 + 1 + 0)
    assert recent.terms(0.0) == ({"late": 305, "refund": 1, "crash": 70_000}, 100_005)
    assert recent.terms(120.0) == ({"late": 2}, 2)
    assert [(b.terms, list(b.counts)) for b in recent] == [
        (("late", "refund"), [3, 1]),
        (("late", "crash"), [300, 70_000]),
        (("late",), [2]),
    ]
    again = pickle.loads(pickle.dumps(recent))
    assert again.terms(0.0) == recent.terms(0.0) and again.counts(60.0) == recent.counts(60.0)


def test_odd_posts_come_back_as_they_went_in() -> None:
    """Posts that pack (text with NUL or a lone surrogate) and those kept as they are (an int
    amplification, a follower count beyond 64 bits, an id beyond 65,535 bytes)."""
    posts = [
        Post(5.0, "nul", "u\x00", "a", 1, 0, "te\x00xt \ud83d"),
        Post(5, "int", "u", "a", 1, 0, "t"),
        Post(7.0, "big", "u", "a", 2**70, -1, "t"),
        Post(3.0, "i" * 70_000, "u", "a", 0, 0, "t"),
        Post(5.0, "tie", "u", "é", 9, 9, "x" * (TEXT_CHARS + 5)),
    ]
    recent = RecentActivity(SECONDS)
    recent.add(_bucket(0.0, {"late": 1}, posts[:3]))
    recent.add(_bucket(60.0, {"late": 1}, posts[3:]))
    for r in (recent, pickle.loads(pickle.dumps(recent))):
        top = r.top_posts(0.0)
        assert top == [posts[2], posts[4]._replace(text="x" * TEXT_CHARS), posts[0]]
        assert [type(p.amplification) for p in top] == [float, float, float]
        assert r.top_posts(60.0) == [posts[4]._replace(text="x" * TEXT_CHARS), posts[3]]
        assert r.top_posts(0.0, negative=True) == [posts[0], posts[3]]
    five = RecentActivity(SECONDS)
    five.add(_bucket(0.0, {"late": 1}, [posts[1]]))
    assert five.top_posts(0.0) == [posts[1]] and type(five.top_posts(0.0)[0].amplification) is int


def test_terms_are_shared_by_number_and_forgotten_when_no_stream_keeps_them() -> None:
    table = recent_module.TERMS
    first, second = RecentActivity(600.0), RecentActivity(600.0)
    first.add(_bucket(0.0, {"zzfirst-only": 1, "zzshared": 2}, []))
    second.add(_bucket(0.0, {"zzshared": 1, "zzsecond-only": 4}, []))
    assert first._term_ids[1] == second._term_ids[0]  # one number for a term, whatever the stream
    copy = pickle.loads(pickle.dumps(first))
    for minute in range(1, 10 + CUT):  # the buckets leave the window and are cut off
        first.add(_bucket(minute * 60.0, {}, []))
    assert first.terms(0.0)[0] == {}
    table.sweep()
    assert {"zzfirst-only", "zzshared", "zzsecond-only"} <= set(table)  # the copy keeps the first two
    del copy
    gc.collect()
    table.sweep()
    assert "zzfirst-only" not in table and {"zzshared", "zzsecond-only"} <= set(table)
    del first, second
    gc.collect()
    table.sweep()
    assert not {"zzfirst-only", "zzshared", "zzsecond-only"} & set(table)


class _Holder:
    def __init__(self, table: TermTable, terms: list[str]) -> None:
        self._term_ids = array("H", table.acquire(terms))
        table.register(self)


def test_the_table_sweeps_itself_when_it_has_doubled() -> None:
    table = TermTable(sweep_at=4)
    kept = _Holder(table, ["a", "b"])
    gone = _Holder(table, ["c", "d"])
    del gone
    gc.collect()
    assert len(table) == 4  # no sweep yet: numbers 0-3 in use
    assert table.acquire(["e", "a"]) == [2, 0]  # a sweep frees "c" and "d": "e" takes the smallest
    assert sorted(table) == ["a", "b", "e"]
    # the table is full again: a sweep, in which "e" (that no holder keeps) goes, and "f" (about to be
    # kept, pending) stays
    assert table.acquire(["f", "f", "g"]) == [3, 3, 2]
    assert sorted(table) == ["a", "b", "f", "g"]
    assert table.terms(kept._term_ids) == ["a", "b"]
    again = pickle.loads(pickle.dumps(table))  # the holders are not pickled
    assert again.terms([0, 1, 2, 3]) == ["a", "b", "g", "f"]


def test_a_state_of_an_unknown_version_is_refused() -> None:
    recent = RecentActivity.__new__(RecentActivity)
    with pytest.raises(ValueError, match="unknown version"):
        recent.__setstate__({"seconds": 60.0, "_buckets": []})


def test_starts_that_are_not_whole_seconds_are_kept_as_they_are() -> None:
    recent = RecentActivity(SECONDS)
    recent.add(_bucket(60.0, {"late": 1}, []))
    assert recent._starts.typecode == "I"
    recent.add(_bucket(90.5, {"late": 2}, []))
    recent.add(_bucket(120.0, {"late": 1}, []))
    assert recent._starts.typecode == "d"
    assert [b.start for b in recent] == [60.0, 90.5, 120.0]
    assert [type(b.start) for b in recent] == [float] * 3
    assert recent.terms(90.5) == ({"late": 3}, 3) and recent.counts(90.6) == (1, 0)
