"""A sample: one closed bucket of a stream as incident timelines keep it.

>>> Sample(0.0, 30, 20, 5.0, 0.0, 12.0, 3).negative_share
0.6666666666666666
>>> s = [Sample(0, 5, 1, 5.0, 0, 12), Sample(60, 9, 3, 5.0, 0, 12), Sample(120, 30, 20, 5.0, 0, 12)]
>>> onset_of(s, opened_at=180.0, window_minutes=15, bucket_seconds=60)
60.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Sample(NamedTuple):
    """One bucket: its start, what came, what was expected (and the normal band), the level after it."""

    t: float
    mentions: int
    negative: int
    expected: float
    lower: float
    upper: float
    level: int = 0  # 0 calm ... 3 crisis: the stream's paging level after the bucket

    @property
    def negative_share(self) -> float:
        """Negative mentions over mentions (0 for an empty bucket)."""
        return self.negative / self.mentions if self.mentions else 0.0


def onset_of(samples: Sequence[Sample], opened_at: float, window_minutes: int, bucket_seconds: int) -> float:
    """When a surge began: going back from the bucket that opened the incident (it ends at
    ``opened_at``), over at most the window that fired, the earliest of the unbroken run of buckets
    above what was expected; the opening bucket's start when none is known."""
    first_bucket = opened_at - bucket_seconds
    earliest = opened_at - max(1, window_minutes) * 60.0
    by_t = {s.t: s for s in samples}
    onset = first_bucket
    t = first_bucket
    while t >= earliest:
        s = by_t.get(t)
        if s is None or s.mentions <= s.expected:
            break
        onset = t
        t -= bucket_seconds
    return float(onset)
