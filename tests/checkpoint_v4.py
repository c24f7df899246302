"""A checkpoint of version 4 (before the compact detectors) for test_checkpoint.

The fixture ``tests/data/checkpoint-v4.pickle`` holds a stream's state (its detector on 1-minute
buckets, its author activity, the assessment of its last bucket) after a day and a half of
:func:`minutes`, and a detector on 5-minute buckets after 16 days of :func:`five_minutes` (its weekly
memory filled and rolled over), written by the version-4 code; ``tests/data/checkpoint-v4.json`` what
that code answered while it went on. It was made with (``OLD`` a checkout of the version-4 radar)::

    PYTHONPATH=OLD python tests/checkpoint_v4.py
"""

from __future__ import annotations

import json
import math
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
T0 = 1_772_409_600.0  # Monday 2 March 2026, 00:00 UTC
MINUTES, SAVED_AT_MINUTE = 2880, 2160
FIVE, SAVED_AT_FIVE = 288 * 19, 288 * 16


def _series(seed: int, n: int, bucket_seconds: int, rate: float) -> list[tuple[float, float]]:
    """Mentions and negatives per bucket: a daily rhythm, a weekly spike (Tuesdays 10:00 for half an
    hour), a negative surge after the checkpoint and now and then author-weighted counts."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = T0 + i * bucket_seconds
        lam = rate * (1.0 + 0.6 * math.cos(2 * math.pi * (t - T0) / 86_400)) * bucket_seconds / 60
        share = 0.2
        day, second = divmod(int(t - T0), 86_400)
        if day % 7 == 1 and 36_000 <= second < 37_800:
            lam *= 6
        if 0.85 * n < i < 0.86 * n:
            lam, share = lam * 5 + 3, 0.7
        mentions = sum(1 for _ in range(int(lam * 4)) if rng.random() < 0.25) if lam < 50 else round(lam)
        negative = sum(1 for _ in range(mentions) if rng.random() < share)
        m, neg = float(mentions), float(negative)
        if rng.random() < 0.05:
            m, neg = m * 0.75, neg * 0.75
        out.append((m, neg))
    return out


def minutes() -> list[tuple[float, float]]:
    return _series(1, MINUTES, 60, 3.0)


def five_minutes() -> list[tuple[float, float]]:
    return _series(2, FIVE, 300, 2.0)


def posters() -> list[tuple[str, float]]:
    """Authors posting at times: a few often, many once."""
    rng = random.Random(4)
    return [(f"user{int(300 * rng.random() ** 3)}", T0 + i * 7.0) for i in range(2000)]


def go_on(detector: Any, series: list[tuple[float, float]], first: int, bucket_seconds: int) -> list[Any]:
    """What the detector makes of ``series[first:]``: severity, kind, expected mentions and the
    observed and expected sums of the window that fired, per bucket."""
    out = []
    for i in range(first, len(series)):
        mentions, negative = series[i]
        a = detector.update_counts(T0 + i * bucket_seconds, mentions, negative)
        v, n = a.volume, a.negative
        out.append([a.severity, a.kind, v.expected, n.window, n.window_observed, n.window_expected])
    return out


def main() -> None:
    from detectors.crisis import CrisisDetector
    from radar.authors import AuthorActivity
    from radar.checkpoint import VERSION, Checkpointer
    from radar.pipeline import StreamState

    if VERSION != 4:
        sys.exit(f"run with the version-4 radar on PYTHONPATH (this is version {VERSION})")
    stream = StreamState("acme", "Acme Air", CrisisDetector(bucket_seconds=60), AuthorActivity(capacity=64))
    by_minute = minutes()
    for i, (mentions, negative) in enumerate(by_minute[:SAVED_AT_MINUTE]):
        stream.last = stream.detector.update_counts(T0 + i * 60, mentions, negative)
    posts = posters()
    half = len(posts) // 2
    for author, t in posts[:half]:
        stream.authors.weight(author, t)
    weekly = CrisisDetector(bucket_seconds=300)
    by_five = five_minutes()
    for i, (mentions, negative) in enumerate(by_five[:SAVED_AT_FIVE]):
        weekly.update_counts(T0 + i * 300, mentions, negative)
    path = Checkpointer(DATA / "v4").save(
        {"stream": stream, "weekly": weekly}, journal_seq=1, now=datetime(2026, 3, 20, tzinfo=UTC)
    )
    path.rename(DATA / "checkpoint-v4.pickle")
    (DATA / "v4").rmdir()
    last = stream.last
    expected = {
        "last": [last.volume.expected, last.volume.lower, last.volume.upper, last.share_baseline, last.score],
        "weights": [stream.authors.weight(a, t) for a, t in posts[half:]],
        "stream": go_on(stream.detector, by_minute, SAVED_AT_MINUTE, 60),
        "weekly": go_on(weekly, by_five, SAVED_AT_FIVE, 300),
    }
    (DATA / "checkpoint-v4.json").write_text(json.dumps(expected) + "\n")


if __name__ == "__main__":
    main()
