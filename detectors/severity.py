"""Severity of a surge: its excess over normal, against the stream's own earlier surges.

A :class:`~detectors.surge.SurgeDetector` *triggers* on statistical surprise; how bad a surge is
grows with the size of its excess over normal (DESIGN §4: trigger on surprise, grade by
magnitude). A p-value does not grade (a night-time 10 → 200 is more surprising than a daytime
47 → 450), and neither does the ratio over normal alone (it saturates for any large surge).
:class:`PeakSeverity` grades a triggered reading by its excess (observed minus expected mentions)
against a *reference*: the largest excess of the stream's earlier triggered readings, decaying
with a half-life so that an old record does not mask new surges for ever::

    severity = excess / (excess + reference)

0 when the reading did not trigger; 0.5 when the excess equals the reference; towards 1 when it
dwarfs it. The first surge of a stream (no reference yet) scores 1. A stream that surges every
day at the same size settles near 0.5; a surge several times the size of anything recently seen
scores near 1.

Given the excess of every window of the detector (5 minutes to 4 hours:
:meth:`SurgeDetector.current_excesses <detectors.surge.SurgeDetector.current_excesses>` right
after the update), each window keeps its own reference and the severity is the mean over the
windows: a one-bucket blip that is a record at 5 minutes but not at an hour or four grades lower
than a surge that is a record at every length. It is a function of the readings alone, in
order: strictly streaming.

>>> from detectors.surge import SurgeDetector
>>> det, grade = SurgeDetector(bucket_seconds=300, warmup=86_400), PeakSeverity()
>>> day = 288
>>> for i in range(3 * day):
...     surge = 60.0 if i % day == 100 else 0.0  # a surge of ~40 over normal each day after the first
...     r = det.update({"t": i * 300.0, "count": 20.0 + (i % 3) + surge})
...     s = grade.update(r, det.current_excesses())
...     if r.triggered:
...         print(f"day {i // day}: severity {s:.2f}")
day 1: severity 1.00
day 2: severity 0.52
>>> r = det.update({"t": 3 * day * 300.0, "count": 600.0})  # 15 times the usual surge
>>> round(grade.update(r, det.current_excesses()), 2)
0.94
"""

from __future__ import annotations

from collections.abc import Sequence
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
    """Grades one stream's triggered readings by their excess against its own decayed peaks.

    Parameters
    ----------
    half_life
        Seconds over which a reference (the largest earlier triggered excess) halves. The default,
        7 days, was chosen on the project's generated scenarios (``bench/severity_tune.py``,
        tuning seeds), not on NAB.

    Feed it every reading of the stream in order (:meth:`update`), with the excess of each of
    the detector's windows (:meth:`SurgeDetector.current_excesses
    <detectors.surge.SurgeDetector.current_excesses>`, always the same windows) or without (the
    reading's own excess, of the window it reports, is then the only one). :meth:`grade` judges
    a reading without remembering it.

    >>> from types import SimpleNamespace as R
    >>> g = PeakSeverity(half_life=86_400.0)
    >>> g.update(R(t=0.0, triggered=True, learning=False, missing=False, excess=100.0))
    1.0
    >>> g.update(R(t=86_400.0, triggered=True, learning=False, missing=False, excess=50.0))
    0.5
    >>> g.update(R(t=86_400.0, triggered=False, learning=False, missing=False, excess=500.0))
    0.0
    >>> g = PeakSeverity(half_life=86_400.0)  # two windows: a record in one, as usual in the other
    >>> surge = R(t=0.0, triggered=True, learning=False, missing=False, excess=10.0)
    >>> g.update(surge, [10.0, 40.0]), g.update(surge, [30.0, 40.0])
    (1.0, 0.625)
    """

    def __init__(self, half_life: float = 7 * 86_400.0) -> None:
        if not half_life > 0:
            raise ValueError(f"half_life: {half_life} must be positive seconds")
        self.half_life = half_life
        self._peaks: list[float] = []  # the largest triggered excess per window, decayed to ...
        self._peak_t = 0.0  # ... this time

    def references(self, t: float) -> list[float]:
        """The decayed peak excess per window at time ``t`` (empty before the first trigger)."""
        decay = 0.5 ** (max(0.0, t - self._peak_t) / self.half_life)
        return [p * decay for p in self._peaks]

    def grade(self, reading: Graded, excesses: Sequence[float] | None = None) -> float:
        """Severity of ``reading`` in [0, 1] (0 unless it triggered), without remembering it."""
        if reading.learning or reading.missing or not reading.triggered:
            return 0.0
        current = self._excesses(reading, excesses)
        refs = self.references(reading.t) or [0.0] * len(current)
        return sum(severity(e, r) for e, r in zip(current, refs, strict=True)) / len(current)

    def update(self, reading: Graded, excesses: Sequence[float] | None = None) -> float:
        """Grade ``reading``, then remember its excesses when it triggered; returns the grade."""
        s = self.grade(reading, excesses)
        if reading.triggered and not (reading.learning or reading.missing):
            current = self._excesses(reading, excesses)
            refs = self.references(reading.t) or [0.0] * len(current)
            self._peaks = [max(r, e) for e, r in zip(current, refs, strict=True)]
            self._peak_t = reading.t
        return s

    def _excesses(self, reading: Graded, excesses: Sequence[float] | None) -> list[float]:
        current = [reading.excess] if excesses is None else [float(e) for e in excesses]
        if not current or (self._peaks and len(current) != len(self._peaks)):
            raise ValueError(f"excesses: {len(current)} windows, the references have {len(self._peaks)}")
        return current
