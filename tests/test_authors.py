"""Author activity: the compact record weighs every post as the dict of authors it replaced."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from radar.authors import AuthorActivity


class _Reference:
    """The version-3 author activity: a dict of author -> (decayed count, time), least recent first."""

    def __init__(self, capacity: int, half_life: float) -> None:
        self.capacity, self.half_life = capacity, half_life
        self.authors: dict[str, tuple[float, float]] = {}

    def weight(self, author: str, t: float) -> float:
        if not author:
            return 1.0
        seen = self.authors.pop(author, None)
        if seen is not None:
            count = seen[0] * math.pow(0.5, max(0.0, t - seen[1]) / self.half_life)
            self.authors[author] = (count + 1.0, max(t, seen[1]))
            return 1.0 / (1.0 + count)
        if len(self.authors) >= self.capacity:
            del self.authors[next(iter(self.authors))]
        self.authors[author] = (1.0, t)
        return 1.0


#: Names that a search in the run of names could confuse: prefixes and suffixes of each other, NUL
#: and SOH (the separator and the escape), a lone surrogate, non-ASCII.
TRICKY = ["", "a", "ab", "b", "ba", "a\x00b", "\x00", "\x01", "\x01\x03", "b\x00", "\ud800x", "é", "e"]


@pytest.mark.parametrize("seed", range(6))
def test_weights_match_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    capacity = [1, 2, 7, 31, 128, 300][seed]
    a, ref = AuthorActivity(capacity, 600.0), _Reference(capacity, 600.0)
    pool = TRICKY + [f"user{i}" for i in range(300)]
    t = 0.0
    for i in range(4000):
        t += rng.random() * 30 - 3  # now and then out of order
        author = rng.choice(pool[: rng.choice([len(TRICKY), 30, len(pool)])])
        assert a.weight(author, t) == ref.weight(author, t)
        assert len(a) == len(ref.authors)
        if i % 700 == 0:
            a = pickle.loads(pickle.dumps(a))


def test_the_oldest_author_is_forgotten_first() -> None:
    a = AuthorActivity(capacity=2)
    a.weight("x", 0.0)
    a.weight("y", 1.0)
    a.weight("x", 2.0)  # y is now the least recently active
    a.weight("z", 3.0)
    assert len(a) == 2
    assert a.weight("y", 4.0) == 1.0  # forgotten
    assert a.weight("z", 4.0) < 1.0


def test_capacity_and_half_life_are_checked() -> None:
    with pytest.raises(ValueError, match="capacity"):
        AuthorActivity(capacity=0)
    with pytest.raises(ValueError, match="half_life"):
        AuthorActivity(half_life=0)
