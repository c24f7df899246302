"""Author activity: damping repeat posters so a few accounts cannot fake a surge.

Each mention counts ``1 / (1 + recent posts by the same author)``, where recent posts decay with
a half-life (30 minutes by default). A crowd of distinct people counts fully; a spam flood of a
handful of accounts posting every few seconds counts for little. Only the most recently active
authors are remembered (``capacity``), which is exactly the set a flood keeps fresh, so memory
stays bounded whatever the stream's size.

>>> a = AuthorActivity()
>>> [round(a.weight("bot", t=float(i)), 2) for i in range(4)]
[1.0, 0.5, 0.33, 0.25]
>>> a.weight("someone-else", t=4.0)
1.0
"""

from __future__ import annotations

import math


class AuthorActivity:
    """Decayed per-author post counts for the most recently active authors of one stream."""

    def __init__(self, capacity: int = 128, half_life: float = 1800.0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: {capacity} must be >= 1")
        if half_life <= 0:
            raise ValueError(f"half_life: {half_life} must be positive")
        self.capacity = capacity
        self.half_life = half_life
        # author -> (count, at), least recently active first (a plain dict: a third smaller than an
        # OrderedDict, and moving an author to the end is a pop and an insert)
        self._recent: dict[str, tuple[float, float]] = {}

    def weight(self, author: str, t: float) -> float:
        """The weight of a post by ``author`` at ``t`` (epoch seconds), and remember it."""
        if not author:
            return 1.0
        seen = self._recent.pop(author, None)
        count = 0.0
        if seen is not None:
            count = seen[0] * math.pow(0.5, max(0.0, t - seen[1]) / self.half_life)
        self._recent[author] = (count + 1.0, max(t, seen[1]) if seen else t)
        if len(self._recent) > self.capacity:
            del self._recent[next(iter(self._recent))]
        return 1.0 / (1.0 + count)

    def __len__(self) -> int:
        return len(self._recent)
