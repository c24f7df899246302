"""A checkpoint of version 3 (before the compact recent and author activity) for test_checkpoint.

The fixture ``tests/data/checkpoint-v3.pickle`` holds a stream's :class:`~radar.recent.RecentActivity`
and :class:`~radar.authors.AuthorActivity` after the first half of :func:`buckets` and :func:`posters`,
written by the version-3 code; ``tests/data/checkpoint-v3.json`` what that code answered while it
went on with the second half. It was made with (``OLD`` a checkout of the version-3 radar)::

    PYTHONPATH=OLD python tests/checkpoint_v3.py
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radar.windows import Bucket, Post, Windower

DATA = Path(__file__).parent / "data"
MINUTES, SAVED_AT_MINUTE = 600, 300
WORDS = ["late", "refund", "crash", "hold", "app", "love", "fee", "delay", "gate", "bag", "seat", "crew"]


def buckets() -> list[Bucket]:
    """A stream's closed buckets over ``MINUTES`` minutes: busy and quiet stretches, amplification ties,
    long texts, a term in many mentions of a bucket."""
    rng = random.Random(3)
    w = Windower(60)
    closed: list[Bucket] = []
    serial = 0
    for minute in range(MINUTES):
        rate = 6.0 if (minute // 90) % 2 else 0.4
        for _ in range(int(rng.expovariate(1.0 / rate)) if rng.random() < 0.8 else 0):
            serial += 1
            amplification = float(rng.choice([0, 5, 5, 20, rng.randint(0, 10_000)]))
            text = "ü" * rng.choice([10, 400])
            post = Post(amplification, f"m{serial}", f"https://x/{serial}", f"a{serial % 9}", serial, 1, text)
            terms = rng.sample(WORDS, 4)
            w.add("s", t=minute * 60.0 + rng.random() * 59, polarity=rng.choice([-1, 0, 1]), weight=1.0,
                  author="a", terms=terms, post=post)  # fmt: skip
        closed.extend(w.advance((minute + 1) * 60.0))
    return closed


def posters() -> list[tuple[str, float]]:
    """Authors posting at times: a few often, many once."""
    rng = random.Random(4)
    return [(f"user{int(300 * rng.random() ** 3)}", i * 7.0) for i in range(2000)]


def answers(recent: Any, end: float) -> list[Any]:
    """What a :class:`RecentActivity` answers for the trailing windows the radar asks about."""
    out: list[Any] = []
    for minutes in (1, 15, 60, 240, 37):
        since = end - minutes * 60
        terms, mentions = recent.terms(since)
        out.append(
            [
                list(recent.counts(since)),
                [list(kv) for kv in terms.items()],
                mentions,
                recent.has_negative_posts(since),
                [p.to_json() for p in recent.top_posts(since)],
                [p.to_json() for p in recent.top_posts(since, negative=True)],
            ]
        )
    return out


def digest(answers: list[Any]) -> str:
    """A digest of many :func:`answers` (all of them would make a file of megabytes)."""
    return hashlib.sha256(json.dumps(answers, ensure_ascii=False).encode()).hexdigest()


def main() -> None:
    from radar.authors import AuthorActivity
    from radar.checkpoint import VERSION, Checkpointer
    from radar.recent import RecentActivity

    if VERSION != 3:
        sys.exit(f"run with the version-3 radar on PYTHONPATH (this is version {VERSION})")
    recent, authors = RecentActivity(), AuthorActivity(capacity=64)
    closed, posts = buckets(), posters()
    half = len(posts) // 2
    for bucket in closed[:SAVED_AT_MINUTE]:
        recent.add(bucket)
    weights = [authors.weight(a, t) for a, t in posts[:half]]
    path = Checkpointer(DATA / "v3").save(
        {"recent": recent, "authors": authors}, journal_seq=1, now=datetime(2026, 3, 1, tzinfo=UTC)
    )
    path.rename(DATA / "checkpoint-v3.pickle")
    (DATA / "v3").rmdir()
    later = []
    for bucket in closed[SAVED_AT_MINUTE:]:
        recent.add(bucket)
        later.append(answers(recent, bucket.end))
    expected = {
        "weights_before": weights,
        "weights": [authors.weight(a, t) for a, t in posts[half:]],
        "answers_sha256": digest(later),
        "last_answers": later[-1],  # to show what differs when the digest does not match
    }
    (DATA / "checkpoint-v3.json").write_text(json.dumps(expected, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
