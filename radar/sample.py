"""A sample: one closed bucket of a stream as incident timelines keep it.

>>> Sample(0.0, 30, 20, 5.0, 0.0, 12.0, 3).negative_share
0.6666666666666666
"""

from __future__ import annotations

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
