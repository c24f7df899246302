"""Seasonal baseline: what a count series normally looks like at a given time.

The expected count of a bucket is a time-of-day profile times a level factor that follows the
recent deviation from that profile (trends, weekends). The profile has 5-minute slots: the average
of a slot's buckets at first, exponentially weighted over the last few days once there are enough,
and shrunk towards the 25 minutes around it while the slot has learned little (a day of data
is a handful of noisy buckets per slot; daily rhythms change smoothly).
Once a slot of the week has been seen in the two previous weeks, the smaller
of those two weeks' values replaces the daily profile where it is higher: a weekly newsletter
spike seen twice becomes normal, a one-off crisis does not. The weekly memory keeps each slot's
value as a one-byte logarithmic code (steps of 6.5 %, from 0.02 to about 170,000 mentions per
5 minutes): three weeks of 2,016 slots in 6 KB, to within 3.2 % of the value.

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
from typing import Any

from detectors.params import share_attributes

SLOT_SECONDS = 300
DAY_SLOTS = 86_400 // SLOT_SECONDS
WEEK_SLOTS = 7 * DAY_SLOTS
# 1970-01-01 was a Thursday; this shift makes slot-of-week 0 Monday 00:00 UTC.
_WEEK_SHIFT = 3 * DAY_SLOTS
# where the rows of the weekly memory begin: the week being filled, the last one and the one before
_FILLING, _LAST, _BEFORE = 0, WEEK_SLOTS, 2 * WEEK_SLOTS
# where their seen-bits begin (one bit per slot, most significant first)
_WEEK_BYTES = WEEK_SLOTS // 8
_SEEN_FILLING, _SEEN_LAST, _SEEN_BEFORE = 0, _WEEK_BYTES, 2 * _WEEK_BYTES
#: the weekly memory's codes: 0 is 0, code c > 0 is CODE_FLOOR * CODE_RATIO ** (c - 1)
CODE_FLOOR = 0.02
CODE_RATIO = 1.065
_LOG_RATIO = math.log(CODE_RATIO)
_CODE_ZERO_BELOW = CODE_FLOOR / math.sqrt(CODE_RATIO)  # half a step below code 1
#: the value of each code
DECODED = tuple([0.0] + [CODE_FLOOR * math.exp((c - 1) * _LOG_RATIO) for c in range(1, 256)])


def week_code(value: float) -> int:
    """The code nearest ``value`` (per 5-minute slot) in logarithmic terms: 0 below about
    ``CODE_FLOOR / 1.03``, 255 from about 170,000 on.

    >>> week_code(0.0), week_code(0.02), week_code(10.0), DECODED[week_code(10.0)] / 10.0 - 1 < 0.033
    (0, 1, 100, True)
    """
    if not value > _CODE_ZERO_BELOW:  # NaN too
        return 0
    c = math.log(value / CODE_FLOOR) / _LOG_RATIO
    return 255 if c >= 254.0 else round(c) + 1


#: What a :class:`SeasonalBaseline` keeps that is the same for every stream of a configuration.
_PARAMETERS = (
    "bucket_seconds",
    "day_memory",
    "level_half_life",
    "weekly",
    "_scale",
    "_day_alpha",
    "_level_alpha",
    "_full",
    "_prior",
)


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
        Keep the weekly memory (about 6 KB); without it only the daily profile is used.
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
        self._day = array("f", [0.0]) * DAY_SLOTS
        self._day_n = bytearray(DAY_SLOTS)  # buckets learned per slot (+1 for the prior), up to 255
        self._full = min(255, round(1.0 / self._day_alpha))  # buckets an exponential slot is worth
        self._prior = 2.0 * per_slot  # neighbourhood weight, in buckets
        weeks = 3 if weekly else 0
        # the slots' codes (week_code), row after row (_FILLING, _LAST, _BEFORE), and which were seen
        self._week = bytearray(weeks * WEEK_SLOTS)
        self._week_seen = bytearray(weeks * _WEEK_BYTES)
        self._week_index = -1  # absolute week number held in the filling row
        self._mean = 0.0  # mean slot count, for slots never seen
        self._n = 0
        self._lvl_obs = 0.0
        self._lvl_exp = 0.0
        # the last seasonal() figure: the radar asks for it twice per bucket (judge, then learn)
        self._memo_t = math.nan
        self._memo = 0.0
        share_attributes(self, _PARAMETERS)

    def __getstate__(self) -> dict[str, object]:  # the memo is no state: judging must not change it
        return {k: v for k, v in self.__dict__.items() if k not in ("_memo_t", "_memo")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled state, also one of checkpoint versions 3 and 4 (the weekly memory as three
        rows of float16 in numpy, with a count of buckets per slot of the filling week)."""
        if "_week_n" in state:  # versions 3 and 4
            state = dict(state)
            rows, counts = state["_week"], state.pop("_week_n")
            codes = bytearray(week_code(float(v)) for row in rows for v in row)
            if codes:
                seen = bytearray(_WEEK_BYTES)
                for ws, n in enumerate(counts):
                    if n:
                        seen[ws >> 3] |= 0x80 >> (ws & 7)
                state["_week_seen"] = seen + state["_week_seen"]
            state["_week"] = codes
        for name, value in state.items():  # setattr interns the names, as pickle's own restore does
            if type(value) is array:  # no room to grow (an unpickled array has a fifth more)
                value = array(value.typecode, value)
            setattr(self, name, value)
        self._memo_t, self._memo = math.nan, 0.0
        share_attributes(self, _PARAMETERS)

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
        seen, bit = self._week_seen, 0x80 >> (ws & 7)
        if self.weekly and seen[_SEEN_LAST + (ws >> 3)] & bit and seen[_SEEN_BEFORE + (ws >> 3)] & bit:
            base = max(base, DECODED[min(self._week[_LAST + ws], self._week[_BEFORE + ws])])
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
            self._learn_week(slot, per_slot, t)
        self._n += 1
        self._mean += (per_slot - self._mean) / min(self._n, 2000)

    def _learn_week(self, slot: int, per_slot: float, t: float) -> None:
        """Learn a bucket into the filling week's slot: the running mean of the slot's buckets."""
        week, ws = divmod(slot - _WEEK_SHIFT, WEEK_SLOTS)
        codes, seen = self._week, self._week_seen
        if week != self._week_index:
            if self._week_index >= 0 and week - self._week_index == 1:
                codes[_BEFORE:] = codes[_LAST:_BEFORE]
                codes[_LAST:_BEFORE] = codes[_FILLING:_LAST]
                seen[_SEEN_BEFORE:] = seen[_SEEN_LAST:_SEEN_BEFORE]
                seen[_SEEN_LAST:_SEEN_BEFORE] = seen[_SEEN_FILLING:_SEEN_LAST]
            elif self._week_index >= 0:  # a week or more without data: the weekly memory is stale
                seen[:] = bytes(len(seen))
            codes[_FILLING:_LAST] = bytes(WEEK_SLOTS)
            seen[_SEEN_FILLING:_SEEN_LAST] = bytes(_WEEK_BYTES)
            self._week_index = week
        bit = 0x80 >> (ws & 7)
        if seen[_SEEN_FILLING + (ws >> 3)] & bit:
            # the bucket's place in the slot: the slot's earlier buckets are in the mean
            k = int((t - slot * float(SLOT_SECONDS)) // self.bucket_seconds) if self._scale < 1.0 else 0
            value = DECODED[codes[_FILLING + ws]]
            codes[_FILLING + ws] = week_code(value + (per_slot - value) / (k + 1))
        else:
            seen[_SEEN_FILLING + (ws >> 3)] |= bit
            codes[_FILLING + ws] = week_code(per_slot)
