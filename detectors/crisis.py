"""Crisis detection per stream: a negative surge, not just a loud one.

:class:`CrisisDetector` runs two :class:`~detectors.surge.SurgeDetector` instances on a stream's
buckets, one on all mentions and one on negative mentions, and keeps a baseline of the stream's
negative share. Negatives are a thinning of all mentions, so the negatives expected in a bucket
are the expected volume times the usual share (the volume baseline has the weekly memory and five
times the data). Its rule (DESIGN §4): a **crisis** is a surprising number of negative mentions,
AND a negative share clearly and significantly above its baseline (a binomial tail: 14 of 26
negative against a usual 18 % is; 46 of 164 against 20 % is not), AND a minimum absolute excess
(so 0 → 3 mentions never alarms). The trigger is statistical surprise; the severity grows with the size
of the excess (how many times normal). A surprising surge of all mentions whose share of
negatives does not rise is **buzz**; a long run of empty buckets where many were expected is a
**silent** source, whose buckets are then treated as missing (not learned, not scored).

Severities are integers: 0 calm, 1 watch, 2 warning, 3 crisis.

>>> det = CrisisDetector(bucket_seconds=60, warmup=3600)
>>> for i in range(24 * 60):
...     a = det.update({"t": i * 60.0, "mentions": 20.0, "negative": 4.0})
>>> a.severity, a.learning
(0, False)
>>> for i in range(24 * 60, 24 * 60 + 10):
...     a = det.update({"t": i * 60.0, "mentions": 90.0, "negative": 70.0})
>>> a.severity, a.kind
(3, 'crisis')
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from functools import partial
from typing import Any, NamedTuple

from river import base

from detectors.binomial import upper_surprise as share_surprise
from detectors.negbin import lower_surprise, upper_surprise
from detectors.params import share_attributes
from detectors.surge import DEFAULT_WINDOWS, Reading, SurgeDetector

try:  # the per-bucket update compiled (detectors/_update.pyx): the same results, a fraction of the CPU
    from detectors import _update as _core
except ImportError:  # not built: the Python methods below do it all
    _core = None  # type: ignore[assignment]

CALM, WATCH, WARNING, CRISIS = 0, 1, 2, 3
#: Windows of at most this many minutes that fire show a surge going on now (see ``fade_surprise``).
FRESH_MINUTES = 15


class Assessment(NamedTuple):
    """What the detector makes of one bucket of one stream (a named tuple: one per bucket)."""

    t: float
    severity: int  # of the negative surge: 0 calm .. 3 crisis
    kind: str  # "crisis", "buzz", "silent" or "" when calm
    buzz: bool  # a surprising surge of all mentions without a rising negative share
    silent: bool
    learning: bool
    volume: Reading
    negative: Reading
    share: float  # negative share over the window that fired (or this bucket)
    share_baseline: float
    score: float  # crisis score in [0, 1]
    #: a negative surge over a long window that an emerging topic would confirm (see
    #: :meth:`CrisisDetector.confirm_topic`): the minutes of that window, 0 when none
    topic_window: int = 0
    topic: str = ""  # the emerging term, once the caller has looked
    topic_surprise: float = 0.0
    by_topic: bool = False  # the level was raised to warning by the emerging topic

    @property
    def topic_candidate(self) -> bool:
        """True when the level below warning would be raised by an emerging negative topic."""
        return self.topic_window > 0 and self.severity < WARNING


#: An :class:`Assessment` from the tuple of all its fields, without the generated ``__new__`` (a
#: third of the cost: one is made per bucket of every stream).
_assessment: Callable[[tuple[Any, ...]], Assessment] = partial(tuple.__new__, Assessment)


#: What a :class:`CrisisDetector` keeps that is the same for every stream of a configuration.
_PARAMETERS = (
    "bucket_seconds",
    "warmup",
    "surprise",
    "watch_ratio",
    "warning_ratio",
    "crisis_ratio",
    "min_excess",
    "share_lift",
    "share_ratio",
    "share_surprise",
    "topic_trigger",
    "topic_windows",
    "topic_ratio",
    "topic_min_surprise",
    "topic_share_surprise",
    "fade_surprise",
    "silent_after",
    "silent_min_expected",
    "windows",
    "_share_alpha",
)


class CrisisDetector(base.AnomalyDetector):
    """Volume + negative-share crisis detector for one stream.

    Parameters
    ----------
    bucket_seconds
        Bucket size.
    warmup
        Seconds learned before the stream leaves the ``learning`` state.
    surprise
        -log10 p that triggers (e.g. 5: a one-in-100,000 tail).
    watch_ratio, warning_ratio, crisis_ratio
        Negative mentions over expected in the window that fired: the severity grades.
    min_excess
        Minimum absolute excess of negative mentions (and of all mentions, for buzz).
    share_lift
        Minimum absolute rise of the negative share over its baseline.
    share_ratio
        Minimum relative rise of the negative share over its baseline.
    share_surprise
        Minimum -log10 binomial tail of the negatives among all mentions of the window, under the
        usual share (3: one in a thousand).
    topic_trigger
        Surprise (-log10 p) of a term's count against its usual frequency at which an emerging
        topic confirms a sustained negative surge (:meth:`confirm_topic`).
    topic_windows
        Windows (minutes) on which a sustained negative surge is looked for: negatives at least
        ``topic_ratio`` times expected with surprise ``topic_min_surprise``, and a negative share
        up (as for a crisis) with binomial surprise ``topic_share_surprise``.
    topic_ratio, topic_min_surprise, topic_share_surprise
        See ``topic_windows``: deliberately weak evidence, which the topic must confirm (chosen on
        the scenario generator's tuning seeds 1-8; ``bench/scenarios.py`` reports other seeds).
    fade_surprise
        Once a surge is over, the hours-long windows still hold its excess for hours: without this
        the level would stay at warning or crisis until it has left them. The surge a window holds
        is over once its most recent part (the next shorter window, itself not over) is
        surprisingly low (-log10 p at least this) against the rate of the window's older part.
        The level then stays at watch (still unusual) until a window of at most 15 minutes fires
        again (a new surge) or nothing fires any more. 0 turns it off.
    silent_after
        Seconds of empty buckets (when at least ``silent_min_expected`` mentions were expected)
        after which the source is declared silent.
    """

    # what a detector pickled before these existed (a version-3 checkpoint) starts with
    fade_surprise: float = 2.0
    _faded = False

    def __init__(
        self,
        bucket_seconds: int = 60,
        warmup: float = 86_400.0,
        surprise: float = 5.0,
        watch_ratio: float = 1.5,
        warning_ratio: float = 2.0,
        crisis_ratio: float = 4.0,
        min_excess: float = 5.0,
        share_lift: float = 0.05,
        share_ratio: float = 1.25,
        share_surprise: float = 3.0,
        topic_trigger: float = 20.0,
        topic_windows: tuple[int, ...] = (60, 240),
        topic_ratio: float = 1.3,
        topic_min_surprise: float = 1.0,
        topic_share_surprise: float = 1.5,
        fade_surprise: float = 2.0,
        silent_after: float = 1800.0,
        silent_min_expected: float = 10.0,
        windows: tuple[int, ...] = DEFAULT_WINDOWS,
    ) -> None:
        if not 1.0 <= watch_ratio < warning_ratio < crisis_ratio:
            raise ValueError("watch_ratio, warning_ratio, crisis_ratio: need 1 <= watch < warning < crisis")
        if surprise <= 0:
            raise ValueError(f"surprise: {surprise} must be positive")
        if min_excess < 0:
            raise ValueError(f"min_excess: {min_excess} must be >= 0")
        if silent_after <= 0:
            raise ValueError(f"silent_after: {silent_after} must be positive")
        if fade_surprise < 0:
            raise ValueError(f"fade_surprise: {fade_surprise} must be >= 0")
        self.bucket_seconds = bucket_seconds
        self.warmup = warmup
        self.surprise = surprise
        self.watch_ratio = watch_ratio
        self.warning_ratio = warning_ratio
        self.crisis_ratio = crisis_ratio
        self.min_excess = min_excess
        self.share_lift = share_lift
        self.share_ratio = share_ratio
        self.share_surprise = share_surprise
        self.topic_trigger = topic_trigger
        self.topic_windows = tuple(w for w in topic_windows if w in windows)
        self.topic_ratio = topic_ratio
        self.topic_min_surprise = topic_min_surprise
        self.topic_share_surprise = topic_share_surprise
        self.fade_surprise = fade_surprise
        self.silent_after = silent_after
        self.silent_min_expected = silent_min_expected
        self.windows = windows
        self._volume = SurgeDetector(bucket_seconds, "mentions", windows, warmup, surprise, min_excess)
        self._negative = SurgeDetector(
            bucket_seconds, "negative", windows, warmup, surprise, min_excess, weekly=False
        )
        self._share_neg = 0.0
        self._share_all = 0.0
        self._share_alpha = 1.0 - 0.5 ** (bucket_seconds / (2 * 86_400.0))
        self._silent = False
        self._faded = False  # the surge that fired is over (see fade_surprise)
        share_attributes(self, _PARAMETERS)

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        share_attributes(self, (name for name in _PARAMETERS if name in state))

    @property
    def learning(self) -> bool:
        """True during warm-up."""
        return self._volume.learning

    @property
    def silent(self) -> bool:
        """True while the stream's source is considered silent."""
        return self._silent

    def mark_silent(self) -> None:
        """The stream's source is known to be down: the buckets since it last delivered, and those
        until mentions flow again, are missing (not learned as zeros, not judged)."""
        if self._silent:
            return
        self._silent = True
        self._volume.mark_missing(self._volume.zero_run)
        self._negative.mark_missing(self._volume.zero_run)

    @property
    def share_baseline(self) -> float:
        """The stream's usual negative share."""
        return self._share_neg / self._share_all if self._share_all > 0 else 0.0

    @property
    def volume(self) -> SurgeDetector:
        """The detector on all mentions."""
        return self._volume

    @property
    def negative(self) -> SurgeDetector:
        """The detector on negative mentions."""
        return self._negative

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        """Learn one bucket (``t``, ``mentions``, ``negative``)."""
        self.update(x)

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """Crisis score in [0, 1] of one bucket, without learning it."""
        vol = self._volume.read(x)
        neg = self._negative.read(self._with_negative_expectation(x, vol))
        totals = self._volume.window_sums(vol.observed, vol.expected)[0] if not vol.learning else []
        return self._assess(vol, neg, totals).score

    def update(self, x: Mapping[Hashable, Any]) -> Assessment:
        """Assess one bucket, then learn it."""
        mentions = float(x.get("mentions") or 0.0)
        if self._silent and mentions > 0:
            self._silent = False
        if self._silent:
            x = {**x, "missing": True}
        vol = self._volume.update(x)
        negative, missing = float(x.get("negative") or 0.0), bool(x.get("missing"))
        if _core is not None:
            return _core.crisis_learn(self, vol, mentions, negative, missing, x)
        return self._learn(vol, mentions, negative, missing, x)

    def update_counts(self, t: float, mentions: float, negative: float) -> Assessment:
        """:meth:`update` of ``{"t": t, "mentions": mentions, "negative": negative}`` without the dict
        (what the radar calls for every bucket of every stream)."""
        if _core is not None:
            return _core.crisis_update_counts(self, t, mentions, negative)
        mentions = float(mentions or 0.0)
        if self._silent and mentions > 0:
            self._silent = False
        missing = self._silent
        vol = self._volume.update_counts(float(t), mentions, None, missing)
        return self._learn(vol, mentions, float(negative or 0.0), missing, None)

    def _learn(
        self, vol: Reading, mentions: float, negative: float, missing: bool, x: Mapping[Hashable, Any] | None
    ) -> Assessment:
        """The rest of :meth:`update` once the volume is judged and learned (``x``: its dict, if any).

        The pure-Python version: ``_core.crisis_learn`` does the same when the extension is built.
        """
        if self._share_all > 0:  # as _with_negative_expectation, without a dict to build
            expected = vol.expected * self.share_baseline
            neg = self._negative.update_counts(vol.t, negative, expected, missing)
        elif x is None:
            neg = self._negative.update_counts(vol.t, negative, None, missing)
        else:
            neg = self._negative.update(x)
        if (
            not self._silent
            and not vol.learning
            and mentions <= 0
            and self._volume.zero_run * self.bucket_seconds >= self.silent_after
            and self._volume.zero_run_expected >= self.silent_min_expected
            and vol.low_surprise >= self.surprise
        ):
            self._silent = True
            self._volume.mark_missing(self._volume.zero_run)
            self._negative.mark_missing(self._volume.zero_run)
        totals = self._volume.current_sums()
        assessment = self._assess(vol, neg, totals)
        if assessment.severity >= WARNING and self.fade_surprise > 0:
            assessment = self._fade(assessment, totals)
        elif assessment.severity == CALM:
            self._faded = False
        if (
            assessment.severity == CALM
            and not assessment.buzz
            and not assessment.topic_window
            and not missing
            and not self._silent
        ):
            a = self._share_alpha
            self._share_neg += a * (negative - self._share_neg)
            self._share_all += a * (mentions - self._share_all)
        return assessment

    def _with_negative_expectation(self, x: Mapping[Hashable, Any], vol: Reading) -> Mapping[Hashable, Any]:
        """Negatives are a thinning of all mentions: expect the usual share of the expected volume."""
        if self._share_all <= 0:
            return x
        return {**x, "expected_negative": vol.expected * self.share_baseline}

    def _assess(self, vol: Reading, neg: Reading, totals: list[float]) -> Assessment:
        """The level of one bucket; ``totals`` are all mentions per window, this bucket included."""
        baseline = self.share_baseline
        if vol.learning or vol.missing or self._silent:
            kind = "silent" if self._silent else ""
            share = _ratio(neg.observed, vol.observed)
            learning = vol.learning and not self._silent
            fields = (vol.t, CALM, kind, False, self._silent, learning, vol, neg, share, baseline, 0.0)
            return _assessment((*fields, 0, "", 0.0, False))
        # the negative share over the window the negatives are judged on
        total = totals[self._negative.window_minutes.index(neg.window)]
        share = _ratio(neg.window_observed, total)
        share_up = self._share_up(neg.window_observed, total, baseline)
        severity = self._grade(neg.triggered, neg.surprise, neg.ratio, neg.excess) if share_up else CALM
        buzz = severity < WARNING and vol.triggered and vol.ratio >= self.watch_ratio
        score = SurgeDetector.score_of(neg) if severity else 0.0
        kind = "crisis" if severity else ("buzz" if buzz else "")
        topic_window = self._sustained_window(totals, baseline) if severity < WARNING else 0
        row = (vol.t, severity, kind, buzz, False, False, vol, neg, share, baseline, score, topic_window)
        return _assessment((*row, "", 0.0, False))

    def _share_up(self, negative: float, total: float, baseline: float) -> bool:
        """Whether ``negative`` of ``total`` mentions is a negative share clearly above the usual."""
        share = _ratio(negative, total)
        return (
            share >= baseline * self.share_ratio
            and share - baseline >= self.share_lift
            and share_surprise(negative, total, baseline) >= self.share_surprise
        )

    def _grade(self, triggered: bool, surprise: float, ratio: float, excess: float) -> int:
        """The level of a negative surge whose share is up: triggered, by its ratio over normal."""
        if triggered:
            if ratio >= self.crisis_ratio:
                return CRISIS
            return WARNING if ratio >= self.warning_ratio else WATCH
        if surprise >= self.surprise - 1.5 and ratio >= self.watch_ratio and excess >= self.min_excess:
            return WATCH
        return CALM

    def _fade(self, a: Assessment, totals: list[float]) -> Assessment:
        """Warning or crisis only while the surge goes on: once the window that fired holds a surge
        that is over, the level stays at watch until a short window fires again with a surge that
        is not over (a new one) or nothing fires any more. Needs the windows as learned: only after
        ``update``."""
        surging = _surging(self._negative, self.fade_surprise)
        if self._fresh(totals, a.share_baseline, surging):
            self._faded = False
            return a
        if not self._faded:
            if surging[self._negative.window_minutes.index(a.negative.window)]:
                return a
            self._faded = True
        return a._replace(severity=WATCH)

    def _fresh(self, totals: list[float], baseline: float, surging: list[bool]) -> bool:
        """Whether a window of at most ``FRESH_MINUTES`` fires with a surge that is not over."""
        for i, m in enumerate(self._negative.window_minutes):
            if m > FRESH_MINUTES:
                break
            o, e, dispersion = self._negative.window(m)
            if (
                surging[i]
                and o - e >= self.min_excess
                and self._share_up(o, totals[i], baseline)
                and upper_surprise(o, e, dispersion) >= self.surprise
            ):
                return True
        return False

    def _sustained_window(self, totals: list[float], baseline: float) -> int:
        """The first of ``topic_windows`` holding a sustained (if weak) negative surge, or 0.

        Uses the negatives' windows as learned (this bucket included), so only after ``update``.
        """
        minutes = self._negative.window_minutes
        surging: list[bool] | None = None
        for w in self.topic_windows:
            observed, expected, dispersion = self._negative.window(w)
            if observed < expected * self.topic_ratio or observed - expected < self.min_excess:
                continue
            if surging is None:
                surging = _surging(self._negative, self.fade_surprise)
            if not surging[minutes.index(w)]:
                continue
            total = totals[minutes.index(w)]
            share = _ratio(observed, total)
            if (
                share >= baseline * self.share_ratio
                and share - baseline >= self.share_lift
                and upper_surprise(observed, expected, dispersion) >= self.topic_min_surprise
                and share_surprise(observed, total, baseline) >= self.topic_share_surprise
            ):
                return w
        return 0

    def recent_negatives(self) -> tuple[int, float, float]:
        """``(minutes, observed, expected)`` negatives over the longest window of at most
        ``FRESH_MINUTES``, as learned (after :meth:`update`, this bucket included): what is
        happening now, which a de-escalation shows next to the longer window that fired.

        >>> det = CrisisDetector(bucket_seconds=60, warmup=3600)
        >>> for i in range(120):
        ...     _ = det.update({"t": i * 60.0, "mentions": 20.0, "negative": 4.0})
        >>> minutes, observed, expected = det.recent_negatives()
        >>> minutes, observed, round(expected)
        (15, 60.0, 60)
        """
        minutes = [m for m in self._negative.window_minutes if m <= FRESH_MINUTES] or [
            self._negative.window_minutes[0]
        ]
        observed, expected, _ = self._negative.window(minutes[-1])
        return minutes[-1], observed, expected

    def confirm_topic(self, a: Assessment, term: str, surprise: float) -> Assessment:
        """Raise a sustained negative surge to warning when a topic is emerging with it.

        A slow burn builds for hours before its negatives are twice the usual; what gives it away
        early is that people start talking about something new (the caller measures that: how
        surprising the most unusual term of the last hour is against the stream's usual terms). When
        ``a`` is a :attr:`~Assessment.topic_candidate` and ``surprise`` reaches ``topic_trigger``,
        the level becomes warning; the topic is recorded either way.

        >>> det = CrisisDetector(bucket_seconds=60, warmup=3600)
        >>> for i in range(24 * 60):
        ...     a = det.update({"t": i * 60.0, "mentions": 20.0, "negative": 4.0})
        >>> for i in range(24 * 60, 24 * 60 + 60):
        ...     a = det.update({"t": i * 60.0, "mentions": 24.0, "negative": 7.0})
        >>> a.severity < 2, a.topic_candidate
        (True, True)
        >>> det.confirm_topic(a, "recall", 35.0).severity
        2
        >>> det.confirm_topic(a, "today", 4.0).severity < 2
        True
        """
        if not a.topic_candidate:
            return a._replace(topic=term, topic_surprise=surprise) if term else a
        if surprise < self.topic_trigger:
            return a._replace(topic=term, topic_surprise=surprise)
        o, e, _ = self._negative.window(a.topic_window)
        score = max(a.score, 1.0 - 1.0 / max(o / max(e, 1e-9), 1.0))
        return a._replace(
            severity=WARNING,
            kind="crisis",
            buzz=False,
            topic=term,
            topic_surprise=surprise,
            by_topic=True,
            score=score,
        )


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def _surging(detector: SurgeDetector, fade_surprise: float) -> list[bool]:
    """Per window of ``detector`` (as learned): whether its surge, if any, is still going on.

    The shortest window always is. A longer one is while the next shorter one is, and that shorter,
    more recent part is not surprisingly low (``-log10 p < fade_surprise``, negative binomial with the
    shorter window's dispersion) against the rate over normal of the window's older part: a surge
    that ended leaves its excess in the older part only. 0 turns it off.
    """
    minutes = detector.window_minutes
    out = [True] * len(minutes)
    if fade_surprise <= 0:
        return out
    o_sub, e_sub, d_sub = detector.window(minutes[0])
    for i in range(1, len(minutes)):
        o, e, d = detector.window(minutes[i])
        if not out[i - 1]:
            out[i] = False
        elif o > e:
            older = (o - o_sub) / max(e - e_sub, 1e-9)  # the older part's observed over expected
            out[i] = lower_surprise(o_sub, e_sub * max(older, 1.0), d_sub) < fade_surprise
        o_sub, e_sub, d_sub = o, e, d
    return out
