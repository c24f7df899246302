"""detectors.severity: a triggered reading graded by its excess against the stream's decayed peak."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.severity import PeakSeverity, severity
from detectors.surge import SurgeDetector

DAY = 86_400.0


@dataclass(frozen=True)
class R:
    t: float
    excess: float
    triggered: bool = True
    learning: bool = False
    missing: bool = False


def test_severity_is_the_excess_over_excess_plus_reference() -> None:
    assert severity(30.0, 10.0) == 0.75
    assert severity(10.0, 10.0) == 0.5
    assert severity(10.0, 30.0) == 0.25
    assert severity(7.0, 0.0) == 1.0
    assert severity(0.0, 10.0) == 0.0
    assert severity(-5.0, 10.0) == 0.0


@given(st.floats(0.01, 1e6), st.floats(0.01, 1e6), st.floats(1.0001, 100.0))
def test_severity_grows_with_the_excess_and_falls_with_the_reference(e: float, ref: float, k: float) -> None:
    s = severity(e, ref)
    assert 0.0 < s < 1.0
    assert severity(e * k, ref) > s
    assert severity(e, ref * k) < s


def test_first_surge_scores_one_and_an_equal_one_scores_a_half() -> None:
    g = PeakSeverity(half_life=DAY)
    assert g.references(0.0) == []
    assert g.update(R(0.0, 40.0)) == 1.0
    assert g.references(0.0) == [40.0]
    assert g.update(R(0.0, 40.0)) == 0.5  # no time passed: as large as the peak


def test_the_reference_halves_every_half_life() -> None:
    g = PeakSeverity(half_life=2 * DAY)
    g.update(R(0.0, 80.0))
    assert g.references(2 * DAY) == pytest.approx([40.0])
    assert g.references(4 * DAY) == pytest.approx([20.0])
    assert g.grade(R(2 * DAY, 40.0)) == pytest.approx(0.5)
    assert g.grade(R(4 * DAY, 40.0)) == pytest.approx(2 / 3)


def test_the_peak_keeps_the_larger_of_the_decayed_reference_and_the_new_excess() -> None:
    g = PeakSeverity(half_life=DAY)
    g.update(R(0.0, 100.0))
    g.update(R(DAY, 10.0))  # smaller than the decayed 50: the reference stays on the old peak
    assert g.references(2 * DAY) == pytest.approx([25.0])
    g.update(R(2 * DAY, 300.0))  # a new record
    assert g.references(2 * DAY) == pytest.approx([300.0])


def test_readings_that_did_not_trigger_score_zero_and_are_not_remembered() -> None:
    g = PeakSeverity()
    for r in (
        R(0.0, 500.0, triggered=False),
        R(0.0, 500.0, learning=True),
        R(0.0, 500.0, missing=True),
    ):
        assert g.update(r) == 0.0
    assert g.references(0.0) == []
    assert g.update(R(0.0, 5.0)) == 1.0


def test_grade_does_not_remember() -> None:
    g = PeakSeverity()
    g.update(R(0.0, 10.0))
    assert g.grade(R(0.0, 1000.0)) == pytest.approx(1000 / 1010)
    assert g.references(0.0) == [10.0]


@pytest.mark.parametrize("half_life", [0.0, -1.0, float("nan")])
def test_half_life_must_be_positive(half_life: float) -> None:
    with pytest.raises(ValueError, match="half_life"):
        PeakSeverity(half_life=half_life)


def test_each_window_has_its_own_reference_and_the_severity_is_their_mean() -> None:
    g = PeakSeverity(half_life=DAY)
    assert g.update(R(0.0, 0.0), [10.0, 100.0, -5.0]) == 1.0 * 2 / 3  # no excess in the last window
    assert g.references(0.0) == [10.0, 100.0, 0.0]
    s = g.grade(R(DAY, 0.0), [30.0, 50.0, 5.0])  # references halved: 5, 50, 0
    assert s == pytest.approx((30 / 35 + 50 / 100 + 1.0) / 3)
    g.update(R(DAY, 0.0), [30.0, 10.0, 5.0])
    assert g.references(DAY) == pytest.approx([30.0, 50.0, 5.0])  # per window: the larger
    with pytest.raises(ValueError, match="excesses"):
        g.update(R(DAY, 0.0), [1.0, 2.0])


def test_a_blip_that_is_a_record_only_at_5_minutes_grades_below_a_record_at_every_length() -> None:
    blip, burst = PeakSeverity(), PeakSeverity()
    for g in (blip, burst):
        g.update(R(0.0, 0.0), [50.0, 100.0, 200.0, 400.0])
    assert blip.grade(R(600.0, 0.0), [120.0, 110.0, 100.0, 90.0]) < 0.5
    assert burst.grade(R(600.0, 0.0), [120.0, 300.0, 800.0, 1600.0]) > 0.7


def test_a_surge_larger_than_the_usual_ones_is_graded_higher_on_a_real_detector() -> None:
    det, g = SurgeDetector(bucket_seconds=300, warmup=DAY), PeakSeverity(half_life=7 * DAY)
    day = 288
    graded: dict[int, float] = {}
    for i in range(5 * day):
        bump = 0.0
        if i % day == 150 and i >= day:
            bump = 400.0 if i // day == 4 else 60.0  # daily small surges, then a large one
        r = det.update({"t": i * 300.0, "count": 20.0 + (i % 3) + bump})
        s = g.update(r, det.current_excesses())
        if i % day == 150:
            graded[i // day] = s
        elif not r.triggered:
            assert s == 0.0
    assert graded[1] == 1.0  # the stream's first surge
    assert 0.3 < graded[2] < 0.7 and 0.3 < graded[3] < 0.7  # as large as the usual one
    assert graded[4] > 0.85  # several times the usual surge
