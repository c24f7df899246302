"""Recent activity: the compact record answers every trailing window as the whole buckets would."""

from __future__ import annotations

import random

import pytest

from radar.recent import TEXT_CHARS, RecentActivity
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
