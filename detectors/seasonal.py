"""Seasonal baseline: what a count series normally looks like at a given time.

The expected count of a bucket is a time-of-day profile times a level factor that follows the
recent deviation from that profile (trends, weekends). The profile has 5-minute slots: the average
of a slot's buckets at first, exponentially weighted over the last few days once there are enough,
and shrunk towards the 25 minutes around it while the slot has learned little (a day of data
is a handful of noisy buckets per slot; daily rhythms change smoothly).
Once a slot of the week has been seen in the two previous weeks, the smaller
of those two weeks' values replaces the daily profile where it is higher: a weekly newsletter
spike seen twice becomes normal, a one-off crisis does not.

Time arrives with the data (``t``, bucket start in epoch seconds): nothing here reads a clock.

>>> b = SeasonalBaseline(bucket_seconds=300)
>>> for i in range(288 * 3):
...     b.learn(i * 300.0, 10.0)
>>> round(b.expected(288 * 3 * 300.0), 1)
10.0
"""

from __future__ import annotations

import math
from array import array

import numpy as np

SLOT_SECONDS = 300
DAY_SLOTS = 86_400 // SLOT_SECONDS
WEEK_SLOTS = 7 * DAY_SLOTS
# 1970-01-01 was a Thursday; this shift makes slot-of-week 0 Monday 00:00 UTC.
_WEEK_SHIFT = 3 * DAY_SLOTS
_FILLING, _LAST, _BEFORE = 0, 1, 2
# where the seen-bits of the two finished weeks begin (only whether a slot was seen matters there)
_WEEK_BYTES = WEEK_SLOTS // 8
_SEEN_LAST, _SEEN_BEFORE = 0, _WEEK_BYTES


class SeasonalBaseline:
    """Expected count per bucket from a time-of-day profile, a weekly memory and a level factor.

    Parameters
    ----------
    bucket_seconds
        Size of the buckets fed to :meth:`learn`: a divisor or a multiple of 300 s.
    day_memory
        Roughly how many days the time-of-day profile remembers.
    level_half_life
        Half-life, in seconds, of the level factor (a day: a slow burn rising over hours must
        not become the new normal before it is noticed; with 6 h, 1 of 4 tuning slow burns
        never reached warning).
    weekly
        Keep the weekly memory (about 15 KB); without it only the daily profile is used.
    """

    def __init__(
        self,
        bucket_seconds: int = 60,
        day_memory: float = 4.0,
        level_half_life: float = 24 * 3600.0,
        weekly: bool = True,
    ) -> None:
        if bucket_seconds <= 0 or (SLOT_SECONDS % bucket_seconds and bucket_seconds % SLOT_SECONDS):
            raise ValueError(f"bucket_seconds: {bucket_seconds} must divide or be a multiple of 300")
        if day_memory <= 0:
            raise ValueError(f"day_memory: {day_memory} must be positive")
        if level_half_life <= 0:
            raise ValueError(f"level_half_life: {level_half_life} must be positive")
        self.bucket_seconds = bucket_seconds
        self.day_memory = day_memory
        self.level_half_life = level_half_life
        self.weekly = weekly
        per_slot = max(1, SLOT_SECONDS // bucket_seconds)
        self._scale = bucket_seconds / SLOT_SECONDS  # counts are kept per 5-minute slot
        self._day_alpha = 1.0 - math.exp(-1.0 / (day_memory * per_slot))
        self._level_alpha = 1.0 - 0.5 ** (bucket_seconds / level_half_life)
        self._day = array("f", bytes(4 * DAY_SLOTS))
        self._day_n = bytearray(DAY_SLOTS)  # buckets learned per slot (+1 for the prior), up to 255
        self._full = min(255, round(1.0 / self._day_alpha))  # buckets an exponential slot is worth
        self._prior = 2.0 * per_slot  # neighbourhood weight, in buckets
        weeks = 3 if weekly else 0
        self._week = np.zeros((weeks, WEEK_SLOTS), dtype=np.float16)
        # buckets learned per slot of the filling week, and one bit per slot of the two finished ones
        # (bytearrays: read every bucket, and a numpy scalar costs four times as much to read)
        self._week_n = bytearray(WEEK_SLOTS if weekly else 0)
        self._week_seen = bytearray(2 * _WEEK_BYTES if weekly else 0)
        self._week_index = -1  # absolute week number held in the filling row
        self._mean = 0.0  # mean slot count, for slots never seen
        self._n = 0
        self._lvl_obs = 0.0
        self._lvl_exp = 0.0
        # the last seasonal() figure: the radar asks for it twice per bucket (judge, then learn)
        self._memo_t = math.nan
        self._memo = 0.0

    def __getstate__(self) -> dict[str, object]:  # the memo is no state: judging must not change it
        return {k: v for k, v in self.__dict__.items() if k not in ("_memo_t", "_memo")}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():  # setattr interns the names, as pickle's own restore does
            setattr(self, name, value)
        self._memo_t, self._memo = math.nan, 0.0

    @property
    def n_learned(self) -> int:
        """How many buckets have been learned."""
        return self._n

    @property
    def level(self) -> float:
        """Recent observed over seasonal expectation (1 = as usual), clipped to 0.2..5."""
        if self._lvl_exp <= 1e-9:
            return 1.0
        r = self._lvl_obs / self._lvl_exp
        r = r if r > 0.2 else 0.2  # max(0.2, r), inline: read every bucket
        return r if r < 5.0 else 5.0  # min(5.0, r)

    def seasonal(self, t: float) -> float:
        """Expected count of the bucket starting at ``t``, before the level factor."""
        if t == self._memo_t:
            return self._memo
        slot = int(t // SLOT_SECONDS)
        day_slot = slot % DAY_SLOTS
        base = self._smoothed(day_slot)
        ws = (slot - _WEEK_SHIFT) % WEEK_SLOTS
        seen, bit = self._week_seen, 0x80 >> (ws & 7)  # np.packbits order
        if self.weekly and seen[_SEEN_LAST + (ws >> 3)] & bit and seen[_SEEN_BEFORE + (ws >> 3)] & bit:
            base = max(base, float(min(self._week[_LAST, ws], self._week[_BEFORE, ws])))
        self._memo_t, self._memo = t, base * self._scale
        return self._memo

    def _smoothed(self, day_slot: int) -> float:
        """The slot's profile value, shrunk towards its neighbours' while it has few buckets.

        A slot learned from a day or two holds a handful of noisy buckets; the 25 minutes around
        it (weighted by how much each slot has learned) are a far steadier estimate of a rhythm
        that changes smoothly. ``_prior`` buckets' worth of that neighbourhood is mixed in.
        """
        day, seen, full = self._day, self._day_n, self._full
        n = min(seen[day_slot], full)
        total = weight = 0.0
        first = day_slot - 2
        if first >= 0 and day_slot + 2 < DAY_SLOTS:
            slots: range | list[int] = range(first, first + 5)
        else:
            slots = [k % DAY_SLOTS for k in range(first, first + 5)]
        for k in slots:
            m = seen[k]
            m = m if m < full else full  # min(), inline: this runs every bucket
            total += m * day[k]
            weight += m
        if weight <= 0:
            return self._mean
        return (n * day[day_slot] + self._prior * total / weight) / (n + self._prior)

    def expected(self, t: float) -> float:
        """Expected count of the bucket starting at ``t``."""
        return self.seasonal(t) * self.level

    def learn(self, t: float, count: float, weight: float = 1.0) -> None:
        """Learn that the bucket starting at ``t`` held ``count``; ``weight`` in [0, 1] slows learning."""
        seasonal = self.seasonal(t)
        self._memo_t = math.nan  # what follows changes it
        per_slot = count / self._scale
        slot = int(t // SLOT_SECONDS)
        day_slot = slot % DAY_SLOTS
        n = self._day_n[day_slot]
        if n:
            # the plain average of the slot's buckets until the exponential memory takes over
            alpha = max(self._day_alpha, 1.0 / (n + 1))
            self._day[day_slot] += alpha * weight * (per_slot - self._day[day_slot])
            if n < 255:
                self._day_n[day_slot] = n + 1
        else:  # the stream's mean so far counts as one earlier bucket of the slot
            self._day[day_slot] = per_slot if self._n == 0 else 0.5 * (per_slot + self._mean)
            self._day_n[day_slot] = 1 if self._n == 0 else 2
        if self._n * self.bucket_seconds >= 86_400:  # the level factor starts after one day
            if self._lvl_exp <= 0.0:  # seeded at "as usual", so early surprises cannot swing it
                self._lvl_obs = self._lvl_exp = max(self._mean * self._scale, 1e-6)
            a = self._level_alpha * weight
            self._lvl_obs += a * (count - self._lvl_obs)
            self._lvl_exp += a * (seasonal - self._lvl_exp)
        if self.weekly:
            self._learn_week(slot, per_slot)
        self._n += 1
        self._mean += (per_slot - self._mean) / min(self._n, 2000)

    def _learn_week(self, slot: int, per_slot: float) -> None:
        week, ws = divmod(slot - _WEEK_SHIFT, WEEK_SLOTS)
        if week != self._week_index:
            gap = week - self._week_index
            if self._week_index >= 0 and gap == 1:
                self._week[_BEFORE] = self._week[_LAST]
                seen = self._week_seen
                seen[_SEEN_BEFORE:] = seen[_SEEN_LAST:_SEEN_BEFORE]
                self._week[_LAST] = self._week[_FILLING]
                filled = np.frombuffer(self._week_n, dtype=np.uint8) > 0
                seen[_SEEN_LAST:_SEEN_BEFORE] = np.packbits(filled).tobytes()
            elif self._week_index >= 0:  # a week or more without data: the weekly memory is stale
                self._week_seen[:] = bytes(len(self._week_seen))
            self._week[_FILLING] = 0.0
            self._week_n[:] = bytes(WEEK_SLOTS)
            self._week_index = week
        n = self._week_n[ws]
        if n < 255:
            self._week[_FILLING, ws] += (per_slot - float(self._week[_FILLING, ws])) / (n + 1)
            self._week_n[ws] = n + 1
