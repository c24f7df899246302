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
from array import array


class AuthorActivity:
    """Decayed per-author post counts for the most recently active authors of one stream."""

    def __init__(self, capacity: int = 128, half_life: float = 1800.0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: {capacity} must be >= 1")
        if half_life <= 0:
            raise ValueError(f"half_life: {half_life} must be positive")
        self.capacity = capacity
        self.half_life = half_life
        # author -> slot, least recently active first (a plain dict: a third smaller than an
        # OrderedDict, and moving an author to the end is a pop and an insert); the slot's decayed
        # count and time in two arrays (8 bytes each instead of a tuple of two floats, 104). Slots
        # 0 .. len - 1 are in use: an evicted author's slot goes to the author who evicted it.
        self._slots: dict[str, int] = {}
        self._counts = array("d")
        self._at = array("d")

    def weight(self, author: str, t: float) -> float:
        """The weight of a post by ``author`` at ``t`` (epoch seconds), and remember it."""
        if not author:
            return 1.0
        slots, counts, at = self._slots, self._counts, self._at
        slot = slots.pop(author, None)
        if slot is not None:
            count = counts[slot] * math.pow(0.5, max(0.0, t - at[slot]) / self.half_life)
            counts[slot] = count + 1.0
            at[slot] = max(t, at[slot])
            slots[author] = slot
            return 1.0 / (1.0 + count)
        if len(slots) >= self.capacity:  # forget the least recently active author, reuse its slot
            slot = slots.pop(next(iter(slots)))
            counts[slot], at[slot] = 1.0, t
        else:
            slot = len(slots)
            counts.append(1.0)
            at.append(t)
        slots[author] = slot
        return 1.0

    def __len__(self) -> int:
        return len(self._slots)
