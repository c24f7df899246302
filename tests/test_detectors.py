"""Detectors: the contract every detector meets, and the behaviour DESIGN §4 asks for."""

from __future__ import annotations

import pickle
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import base
from scipy.stats import nbinom

from detectors.crisis import CRISIS, WARNING, CrisisDetector
from detectors.negbin import band, lower_surprise, upper_surprise
from detectors.seasonal import SeasonalBaseline
from detectors.surge import SurgeDetector

MINUTE = 60.0
DAY = 86_400.0


def _surge() -> SurgeDetector:
    return SurgeDetector(bucket_seconds=60, signal="mentions", warmup=3600)


def _crisis() -> CrisisDetector:
    return CrisisDetector(bucket_seconds=60, warmup=3600)


DETECTORS = [_surge, _crisis]


def _calm_series(n: int, rate: float = 10.0, seed: int = 1) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        hour = (i % 1440) / 60
        lam = rate * (0.4 + 0.6 * np.sin(np.pi * hour / 24) ** 2) * rng.gamma(20, 1 / 20)
        m = float(rng.poisson(lam))
        out.append({"t": i * MINUTE, "mentions": m, "negative": float(rng.binomial(int(m), 0.2))})
    return out


@pytest.mark.parametrize("make", DETECTORS)
def test_contract_river_detector(make: Any) -> None:
    det = make()
    assert isinstance(det, base.AnomalyDetector)
    series = _calm_series(3 * 60)
    for x in series[:30]:
        assert det.score_one(x) == 0.0  # warm-up: scores 0 while learning
        assert det.learn_one(x) is None
    assert det.learning
    for x in series[30:]:
        s = det.score_one(x)
        assert 0.0 <= s <= 1.0
        det.learn_one(x)
    assert not det.learning


@pytest.mark.parametrize("make", DETECTORS)
def test_contract_score_does_not_mutate(make: Any) -> None:
    det = make()
    for x in _calm_series(2 * 60):
        det.learn_one(x)
    before = pickle.dumps(det)
    probe = {"t": 121 * MINUTE, "mentions": 500.0, "negative": 400.0}
    first = det.score_one(probe)
    assert det.score_one(probe) == first
    assert pickle.dumps(det) == before


@pytest.mark.parametrize("make", DETECTORS)
def test_contract_pickle_roundtrip_continues_identically(make: Any) -> None:
    det = make()
    series = _calm_series(4 * 60)
    for x in series[:200]:
        det.learn_one(x)
    copy = pickle.loads(pickle.dumps(det))
    for x in series[200:]:
        assert det.score_one(x) == copy.score_one(x)
        det.learn_one(x)
        copy.learn_one(x)


@pytest.mark.parametrize("make", DETECTORS)
def test_contract_bounded_memory(make: Any) -> None:
    det = make()
    series = _calm_series(3 * 1440)
    for x in series[:1440]:
        det.learn_one(x)
    size_day1 = len(pickle.dumps(det))
    for x in series[1440:]:
        det.learn_one(x)
    assert len(pickle.dumps(det)) <= size_day1 + 2048
    assert size_day1 < 50_000


@pytest.mark.parametrize("make", DETECTORS)
def test_contract_constructor_validates(make: Any) -> None:
    cls = type(make())
    with pytest.raises(ValueError, match=r"warmup|surprise|ratio"):
        cls(warmup=-1) if cls is SurgeDetector else cls(watch_ratio=3.0)


@settings(max_examples=60, deadline=None)
@given(
    mean=st.floats(0.5, 500),
    dispersion=st.floats(0.005, 1.0),
    k=st.integers(0, 2000),
)
def test_negbin_tails_match_scipy(mean: float, dispersion: float, k: int) -> None:
    size = 1 / dispersion
    p = size / (size + mean)
    if k > mean:
        expected = -np.log10(max(nbinom.sf(k - 1, size, p), 1e-300))
        assert upper_surprise(float(k), mean, dispersion) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    if k < mean:
        expected = -np.log10(max(nbinom.cdf(k, size, p), 1e-300))
        assert lower_surprise(float(k), mean, dispersion) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_negbin_is_less_surprised_than_poisson_by_clustered_counts() -> None:
    assert upper_surprise(40.0, 20.0, 0.2) < upper_surprise(40.0, 20.0, 0.002)
    lo, hi = band(100.0, 0.05)
    assert lo < 100.0 < hi


def test_seasonal_baseline_learns_daily_rhythm() -> None:
    b = SeasonalBaseline(bucket_seconds=60)
    for i in range(4 * 1440):
        hour = (i % 1440) / 60
        b.learn(i * MINUTE, 2.0 if hour < 8 else 20.0)
    night = b.expected(4 * DAY + 3 * 3600)
    day = b.expected(4 * DAY + 14 * 3600)
    assert night == pytest.approx(2.0, rel=0.15)
    assert day == pytest.approx(20.0, rel=0.15)


def test_seasonal_baseline_weekly_spike_is_normal_after_two_weeks() -> None:
    b = SeasonalBaseline(bucket_seconds=60)
    monday = 4 * DAY  # 1970-01-05 was a Monday
    spike_at = monday + DAY + 10 * 3600  # Tuesdays 10:00-10:30
    for i in range(4 * 7 * 1440):
        t = monday + i * MINUTE
        in_spike = (t - spike_at) % (7 * DAY) < 1800
        if i >= 3 * 7 * 1440 and in_spike:
            break
        b.learn(t, 50.0 if in_spike else 5.0)
    t = spike_at + 3 * 7 * DAY + 600
    assert b.expected(t) > 30.0
    assert b.expected(t + 7200) < 8.0


def test_surge_detects_spike_and_grades_by_magnitude() -> None:
    det = SurgeDetector(bucket_seconds=60, signal="mentions", warmup=DAY)
    series = _calm_series(2 * 1440)
    for x in series:
        det.learn_one(x)
    t = 2 * 1440 * MINUTE
    small = det.read({"t": t, "mentions": det.baseline.expected(t) * 3 + 20})
    big = det.read({"t": t, "mentions": det.baseline.expected(t) * 10 + 20})
    assert small.triggered and big.triggered
    assert big.ratio > small.ratio


def test_crisis_not_learned_as_normal() -> None:
    det = CrisisDetector(bucket_seconds=60, warmup=DAY)
    for x in _calm_series(2 * 1440):
        det.update(x)
    t0 = 2 * 1440 * MINUTE
    levels = []
    for i in range(180):  # three hours of a sustained crisis
        a = det.update({"t": t0 + i * MINUTE, "mentions": 60.0, "negative": 45.0})
        levels.append(a.severity)
    assert levels[5] >= WARNING
    assert levels[-1] == CRISIS  # still a crisis after three hours: not the new normal


def test_paging_stops_once_the_surge_is_over() -> None:
    """After a two-hour crisis, the hours-long windows still hold its excess for hours. With
    ``fade_surprise`` the level drops below warning once the recent minutes are back to normal (the
    stream stays at watch, unusual, while those windows still show it); while it goes on, nothing
    changes."""
    series = _calm_series(2 * 1440 + 120 + 240)
    t0 = 2 * 1440 * MINUTE
    crisis = [{"t": t0 + i * MINUTE, "mentions": 60.0, "negative": 45.0} for i in range(120)]
    runs = {}
    for fade in (2.0, 0.0):
        det = CrisisDetector(bucket_seconds=60, warmup=DAY, fade_surprise=fade)
        for x in series[: 2 * 1440]:
            det.update(x)
        during = [det.update(x).severity for x in crisis]
        after = [det.update(x).severity for x in series[2 * 1440 + 120 :]]
        runs[fade] = during, after
    (during, after), (during_off, after_off) = runs[2.0], runs[0.0]
    assert during == during_off
    assert during[-1] == CRISIS
    assert min(i for i, level in enumerate(after) if level < WARNING) <= 2  # minutes after the end
    assert min(i for i, level in enumerate(after_off) if level < WARNING) > 120
    assert [level > 0 for level in after] == [level > 0 for level in after_off]


def test_positive_buzz_is_not_a_crisis() -> None:
    det = CrisisDetector(bucket_seconds=60, warmup=DAY)
    for x in _calm_series(2 * 1440):
        det.update(x)
    t0 = 2 * 1440 * MINUTE
    assessments = [det.update({"t": t0 + i * MINUTE, "mentions": 60.0, "negative": 2.0}) for i in range(60)]
    assert max(a.severity for a in assessments) == 0
    assert any(a.buzz for a in assessments)


def test_low_volume_noise_never_alarms() -> None:
    """0 -> 3 mentions is not a crisis: the minimum excess holds it back."""
    det = CrisisDetector(bucket_seconds=60, warmup=DAY, min_excess=5)
    rng = random.Random(3)
    for i in range(2 * 1440):
        m = 1.0 if rng.random() < 0.05 else 0.0
        det.update({"t": i * MINUTE, "mentions": m, "negative": 0.0})
    a = det.update({"t": 2 * 1440 * MINUTE, "mentions": 3.0, "negative": 3.0})
    assert a.severity == 0


def test_silent_source_is_missing_not_calm() -> None:
    det = CrisisDetector(bucket_seconds=60, warmup=DAY, silent_after=1800)
    series = _calm_series(3 * 1440, rate=20)
    for x in series[: 2 * 1440]:
        det.update(x)
    t0 = 2 * 1440 * MINUTE
    out = [det.update({"t": t0 + i * MINUTE, "mentions": 0.0, "negative": 0.0}) for i in range(120)]
    assert out[10].silent is False
    assert out[-1].silent and out[-1].kind == "silent"
    expected_before = det.volume.baseline.expected(t0 + 120 * MINUTE)
    # data comes back: no alarm, and the outage did not drag the baseline down
    back = [det.update(x) for x in series[2 * 1440 + 120 : 2 * 1440 + 180]]
    assert not back[-1].silent
    assert max(a.severity for a in back) == 0
    assert det.volume.baseline.expected(t0 + 120 * MINUTE) == pytest.approx(expected_before, rel=0.2)


def test_negative_share_is_over_the_window_that_was_judged() -> None:
    """The share is negatives / all mentions over the same buckets, each bucket counted once."""
    det = CrisisDetector(bucket_seconds=60, warmup=DAY)
    history = _calm_series(2 * 1440)
    t0 = 2 * 1440 * MINUTE
    history += [{"t": t0 + i * MINUTE, "mentions": 10.0 + 4 * i, "negative": 3.0 + 3 * i} for i in range(30)]
    windows = set()
    for i, x in enumerate(history):
        a = det.update(x)
        if i < 1440 + 600:
            continue
        k = a.negative.window  # minutes = buckets here
        last = history[i + 1 - k : i + 1]
        total = sum(b["mentions"] for b in last)
        share = sum(b["negative"] for b in last) / total if total else 0.0
        assert a.share == pytest.approx(share), (i, k)
        windows.add(k)
    assert max(windows) > 1  # multi-bucket windows were judged


# -- slow burns: a sustained negative surge confirmed by an emerging topic ------------------------------
def _slow_burn(det: CrisisDetector, minutes: int, history: int) -> list[Any]:
    """Learn ``history`` calm minutes, then ramp the negatives up to ~2.2x over ``minutes`` (volume ~1.3x)."""
    series = _calm_series(history + minutes)
    for x in series[:history]:
        det.update(x)
    rng = np.random.default_rng(5)
    out = []
    for i, x in enumerate(series[history:]):
        f = i / minutes
        extra_negative = float(rng.poisson(x["mentions"] * 0.2 * 1.2 * f + 0.01))
        extra = extra_negative + float(rng.poisson(x["mentions"] * 0.1 * f + 0.01))
        bucket = {**x, "mentions": x["mentions"] + extra, "negative": x["negative"] + extra_negative}
        out.append(det.update(bucket))
    return out


def test_sustained_negative_surge_is_a_topic_candidate_below_warning() -> None:
    det = CrisisDetector(bucket_seconds=60, warmup=DAY)
    ramp = _slow_burn(det, 240, 2 * 1440 + 600)
    candidates = [a for a in ramp if a.topic_candidate]
    assert candidates, "a sustained negative surge went unnoticed"
    first = candidates[0]
    assert first.severity < WARNING and first.topic_window in det.topic_windows
    assert ramp.index(first) >= 60  # it takes a sustained surge, not one noisy minute
    # a new topic in the last hour raises it to warning; everyday chatter does not
    raised = det.confirm_topic(first, "recall", det.topic_trigger + 1)
    assert (raised.severity, raised.kind, raised.by_topic) == (WARNING, "crisis", True)
    assert raised.topic == "recall"
    assert 0 < raised.score <= 1
    kept = det.confirm_topic(first, "today", det.topic_trigger - 1)
    assert kept.severity == first.severity and not kept.by_topic and kept.topic == "today"


def test_calm_is_rarely_and_positive_buzz_never_a_topic_candidate() -> None:
    det = CrisisDetector(bucket_seconds=60, warmup=DAY)
    calm = [det.update(x) for x in _calm_series(4 * 1440)][1440:]
    assert sum(a.topic_candidate for a in calm) / len(calm) < 0.03  # weak evidence: the topic must confirm it
    t0 = 4 * 1440 * MINUTE
    buzz = [det.update({"t": t0 + i * MINUTE, "mentions": 40.0, "negative": 3.0}) for i in range(120)]
    assert not any(a.topic_candidate for a in buzz)
    assert det.confirm_topic(buzz[-1], "launch", 200.0).severity < WARNING


def test_a_topic_candidate_does_not_teach_the_negative_share() -> None:
    det = CrisisDetector(bucket_seconds=60, warmup=DAY)
    ramp = _slow_burn(det, 240, 2 * 1440 + 600)
    before = ramp[0].share_baseline
    assert any(a.topic_candidate for a in ramp)
    assert det.share_baseline == pytest.approx(before, abs=0.01)


def test_a_crisis_detector_pickled_before_fade_surprise_still_runs() -> None:
    """Version-3 checkpoints hold detectors without the attribute: they get its default."""
    det = CrisisDetector(bucket_seconds=60, warmup=DAY)
    for x in _calm_series(1440 + 60):
        det.update(x)
    del det.__dict__["fade_surprise"]  # as pickled by the radar before it existed
    old = pickle.loads(pickle.dumps(det))
    t0 = (1440 + 60) * MINUTE
    surge = [{"t": t0 + i * MINUTE, "mentions": 60.0, "negative": 45.0} for i in range(5)]
    assert [old.update(x).severity for x in surge][-1] == CRISIS
    assert old.fade_surprise == CrisisDetector().fade_surprise
