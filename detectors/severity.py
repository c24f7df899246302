"""Severity of a surge: its excess over normal, against the stream's own earlier surges.

A :class:`~detectors.surge.SurgeDetector` *triggers* on statistical surprise; how bad a surge is
grows with the size of its excess over normal (DESIGN §4: trigger on surprise, grade by
magnitude). A p-value does not grade (a night-time 10 → 200 is more surprising than a daytime
47 → 450), and neither does the ratio over normal alone (it saturates for any large surge).
:class:`PeakSeverity` grades a triggered reading by its excess (observed minus expected mentions
in the window that fired) against a *reference*: the largest excess of the stream's earlier
triggered readings, decaying with a half-life so that an old record does not mask new surges
for ever::

    severity = excess / (excess + reference)

0 when the reading did not trigger; 0.5 when the excess equals the reference; towards 1 when it
dwarfs it. The first surge of a stream (no reference yet) scores 1. A stream that surges every
day at the same size settles near 0.5; a surge several times the size of anything recently seen
scores near 1. It is a function of the readings alone, in order: strictly streaming.

>>> from detectors.surge import SurgeDetector
>>> det, grade = SurgeDetector(bucket_seconds=300, warmup=86_400), PeakSeverity()
>>> day = 288
>>> for i in range(3 * day):
...     surge = 60.0 if i % day == 100 else 0.0  # a surge of ~40 over normal each day after the first
...     r = det.update({"t": i * 300.0, "count": 20.0 + (i % 3) + surge})
...     s = grade.update(r)
...     if r.triggered:
...         print(f"day {i // day}: excess {r.excess:.0f}, severity {s:.2f}")
day 1: excess 42, severity 1.00
day 2: excess 40, severity 0.51
>>> round(s, 2), round(grade.reference(3 * day * 300.0))  # calm now; the daily surges' size remains
(0.0, 37)
>>> r = det.update({"t": 3 * day * 300.0, "count": 600.0})  # 15 times the usual surge
>>> round(grade.update(r), 2)
0.94
"""

from __future__ import annotations

from typing import Protocol


class Graded(Protocol):
    """What :class:`PeakSeverity` reads from a reading (a :class:`~detectors.surge.Reading`)."""

    @property
    def t(self) -> float: ...

    @property
    def triggered(self) -> bool: ...

    @property
    def learning(self) -> bool: ...

    @property
    def missing(self) -> bool: ...

    @property
    def excess(self) -> float: ...


def severity(excess: float, reference: float) -> float:
    """``excess / (excess + reference)`` in [0, 1]; 0 for no excess, 1 for no reference.

    >>> severity(30.0, 10.0), severity(10.0, 10.0), severity(5.0, 0.0), severity(-3.0, 10.0)
    (0.75, 0.5, 1.0, 0.0)
    """
    if excess <= 0.0:
        return 0.0
    return excess / (excess + max(reference, 0.0))


class PeakSeverity:
    """Grades one stream's triggered readings by their excess against its own decayed peak.

    Parameters
    ----------
    half_life
        Seconds over which the reference (the largest earlier triggered excess) halves.

    Feed it every reading of the stream in order (:meth:`update`); :meth:`grade` judges a reading
    without remembering it.

    >>> from types import SimpleNamespace as R
    >>> g = PeakSeverity(half_life=86_400.0)
    >>> g.update(R(t=0.0, triggered=True, learning=False, missing=False, excess=100.0))
    1.0
    >>> g.update(R(t=86_400.0, triggered=True, learning=False, missing=False, excess=50.0))
    0.5
    >>> g.update(R(t=86_400.0, triggered=False, learning=False, missing=False, excess=500.0))
    0.0
    """

    def __init__(self, half_life: float = 7 * 86_400.0) -> None:
        if not half_life > 0:
            raise ValueError(f"half_life: {half_life} must be positive seconds")
        self.half_life = half_life
        self._peak = 0.0  # the largest triggered excess, decayed to ...
        self._peak_t = 0.0  # ... this time

    def reference(self, t: float) -> float:
        """The decayed peak excess at time ``t`` (0 before the first triggered reading)."""
        if self._peak <= 0.0:
            return 0.0
        age = max(0.0, t - self._peak_t)
        return self._peak * 0.5 ** (age / self.half_life)

    def grade(self, reading: Graded) -> float:
        """Severity of ``reading`` in [0, 1] (0 unless it triggered), without remembering it."""
        if reading.learning or reading.missing or not reading.triggered:
            return 0.0
        return severity(reading.excess, self.reference(reading.t))

    def update(self, reading: Graded) -> float:
        """Grade ``reading``, then remember its excess when it triggered; returns the grade."""
        s = self.grade(reading)
        if reading.triggered and not (reading.learning or reading.missing):
            self._peak = max(self.reference(reading.t), reading.excess)
            self._peak_t = reading.t
        return s
