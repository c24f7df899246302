"""Surge detection on one count series: multi-window negative-binomial surprise.

:class:`SurgeDetector` learns what a count series (mentions per bucket, negative mentions per
bucket, ...) normally looks like with a :class:`~detectors.seasonal.SeasonalBaseline`, and judges
each bucket by how surprising the sums over several trailing windows (1, 5, 15, 60 and 240
minutes by default) are under a negative binomial whose dispersion is learned on calm data only.
A CUSUM on the per-bucket residuals accumulates slow burns that no single window sees.

A window *triggers* when its surprise reaches ``trigger`` and its excess reaches ``min_excess``;
the reading reports the triggered window with the largest ratio over normal (trigger on
surprise, grade by magnitude), or else the most surprising window.

While the series is surprising, learning slows to a trickle, so a crisis does not become the new
normal; after a long stretch of surprise (``adapt_after``) learning speeds up again, so a lasting
change of level is eventually accepted. Buckets flagged ``missing`` (a collector outage) are
neither learned nor scored.

>>> det = SurgeDetector(bucket_seconds=300, warmup=86_400)
>>> for i in range(288 * 2):
...     det.learn_one({"t": i * 300.0, "count": 20.0 + (i % 3)})
>>> det.score_one({"t": 288 * 2 * 300.0, "count": 21.0}) < 0.1
True
>>> det.score_one({"t": 288 * 2 * 300.0, "count": 200.0}) > 0.9
True
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Hashable, Mapping
from functools import partial
from typing import Any, NamedTuple

from river import base

from detectors.negbin import lower_surprise, upper_surprise
from detectors.params import share_attributes
from detectors.seasonal import SeasonalBaseline

try:  # the per-bucket update compiled (detectors/_update.pyx): the same results, a fraction of the CPU
    from detectors import _update as _core
except ImportError:  # not built: the Python methods below do it all
    _core = None  # type: ignore[assignment]

DEFAULT_WINDOWS = (1, 5, 15, 60, 240)


class Reading(NamedTuple):
    """What a :class:`SurgeDetector` makes of one bucket.

    A named tuple: two are made for every bucket of every stream, and a frozen dataclass costs
    five times as much to build.
    """

    t: float
    observed: float
    expected: float
    lower: float  # the expected band of this bucket
    upper: float
    surprise: float  # -log10 p of the reported window (upper tail)
    window: int  # minutes of the reported window
    window_observed: float
    window_expected: float
    triggered: bool  # some window reached the trigger surprise and the minimum excess
    low_surprise: float  # -log10 p of the current run of empty buckets (0 when not empty)
    learning: bool
    missing: bool = False
    by_cusum: bool = False  # the surprise is the CUSUM's (a slow burn), reported over the longest window

    @property
    def ratio(self) -> float:
        """Observed over expected in the reported window."""
        return self.window_observed / max(self.window_expected, 1e-9)

    @property
    def excess(self) -> float:
        """Observed minus expected in the reported window."""
        return self.window_observed - self.window_expected


#: What a :class:`SurgeDetector` keeps that is the same for every stream of a configuration.
_PARAMETERS = (
    "bucket_seconds",
    "signal",
    "windows",
    "warmup",
    "trigger",
    "min_excess",
    "gate",
    "trickle",
    "adapt_after",
    "cusum_k",
    "cusum_h",
    "dispersion",
    "weekly",
    "_spans",
    "_minutes",
)


def _single(x: float) -> float:
    """``x`` in single precision, as the ring of recent buckets keeps it."""
    return array("f", (x,))[0]


#: A :class:`Reading` from the tuple of all its fields: ``tuple.__new__`` without the generated
#: ``__new__`` costs a third as much (two readings are made per bucket of every stream).
_reading: Callable[[tuple[Any, ...]], Reading] = partial(tuple.__new__, Reading)


class SurgeDetector(base.AnomalyDetector):
    """Multi-window negative-binomial surge detector for one count series.

    Parameters
    ----------
    bucket_seconds
        Bucket size of the series (a divisor or multiple of 300).
    signal
        Key of the count in the feature dict (``t`` holds the bucket start, epoch seconds). When
        the dict also holds ``expected_<signal>``, that is the bucket's expected count and the
        detector's own seasonal baseline is neither used nor learned (nor kept: it is dropped, and
        a bucket without an expectation afterwards starts a new one).
    windows
        Trailing window lengths in minutes; lengths shorter than a bucket collapse to one bucket.
    warmup
        Seconds of data learned before scoring starts (scores are 0 while learning).
    trigger
        Surprise (-log10 p) at which a window triggers.
    min_excess
        Minimum absolute excess (observed - expected) for a window to trigger.
    gate
        Surprise above which learning slows to ``trickle`` (defaults to ``trigger - 1``).
    trickle
        Learning weight while surprising.
    adapt_after
        Seconds of continuous surprise after which learning speeds up again.
    cusum_k, cusum_h
        CUSUM reference (standard deviations per bucket) and the accumulated excess (standard
        deviations) that counts as ``trigger`` surprise.
    dispersion
        Initial dispersion (learned on calm data from half-way through the warm-up).
    weekly
        Keep a weekly memory in the baseline (recurring weekly spikes become normal).
    """

    def __init__(
        self,
        bucket_seconds: int = 60,
        signal: str = "count",
        windows: tuple[int, ...] = DEFAULT_WINDOWS,
        warmup: float = 86_400.0,
        trigger: float = 5.0,
        min_excess: float = 0.0,
        gate: float | None = None,
        trickle: float = 0.02,
        adapt_after: float = 12 * 3600.0,
        cusum_k: float = 0.5,
        cusum_h: float = 12.0,
        dispersion: float = 0.1,
        weekly: bool = True,
    ) -> None:
        if not windows or any(w <= 0 for w in windows):
            raise ValueError(f"windows: {windows} must be positive minutes")
        if warmup < 0:
            raise ValueError(f"warmup: {warmup} must be >= 0")
        if trigger <= 0:
            raise ValueError(f"trigger: {trigger} must be positive")
        if not 0 <= trickle <= 1:
            raise ValueError(f"trickle: {trickle} must be in [0, 1]")
        if cusum_h <= 0 or cusum_k < 0:
            raise ValueError("cusum_h: must be positive, cusum_k: must be >= 0")
        if dispersion <= 0:
            raise ValueError(f"dispersion: {dispersion} must be positive")
        self.bucket_seconds = bucket_seconds
        self.signal = signal
        self.windows = windows
        self.warmup = warmup
        self.trigger = trigger
        self.min_excess = min_excess
        self.gate = gate if gate is not None else max(2.0, trigger - 1.0)
        self.trickle = trickle
        self.adapt_after = adapt_after
        self.cusum_k = cusum_k
        self.cusum_h = cusum_h
        self.dispersion = dispersion
        self.weekly = weekly
        self._baseline: SeasonalBaseline | None = SeasonalBaseline(bucket_seconds, weekly=weekly)
        self._spans = tuple(sorted({max(1, round(w * 60 / bucket_seconds)) for w in windows}))
        self._minutes = tuple(round(s * bucket_seconds / 60) for s in self._spans)
        k = len(self._spans)
        # the last buckets (a ring as long as the longest window), written at _pushes % its length, in
        # single precision (half the memory; the window sums add the values as the ring keeps them)
        self._obs = array("f", [0.0]) * self._spans[-1]
        self._exp = array("f", [0.0]) * self._spans[-1]
        self._sum_o = array("d", [0.0]) * k  # sums of the last `span` pushed buckets
        self._sum_e = array("d", [0.0]) * k
        # per window: EW of (O-E)^2 - E (first k), over EW of E^2 (last k) ... and their ratio, clipped
        self._disp_ew = array("d", [dispersion] * k + [1.0] * k)
        self._disp = array("d", [self._clip(dispersion, 1.0)] * k)
        self._cusum = 0.0
        self._surprised_for = 0.0
        self._learned_seconds = 0.0
        self._pushes = 0  # buckets pushed into the ring
        #: consecutive buckets with nothing observed, and what was expected over them
        self.zero_run = 0
        self.zero_run_expected = 0.0
        share_attributes(self, _PARAMETERS)

    # Attributes are few on purpose (at most 29: beyond that CPython gives every instance a dict of its
    # own, about 1.3 KB more per detector); what follows from them is derived.
    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled state, also one of checkpoint versions 3 and 4 (lists of per-window sums,
        the ring's position and fill, and the derived attributes kept)."""
        state = dict(state)
        old = "_pos" in state
        if old:  # versions 3 and 4
            gate = state.pop("_gate")
            for name in ("_expected_key", "_size", "_disp_alpha"):
                state.pop(name, None)
            size = len(state["_obs"])
            pos, filled = state.pop("_pos"), state.pop("_filled")
            pushes = state.get("_pushes", filled)
            if filled < size:
                pushes = filled
            else:  # the same position in the ring (the drift re-sum may come a little earlier or later)
                pushes = max(pushes, size)
                pushes += (pos - pushes) % size
            state["_pushes"], state["gate"] = pushes, gate
            for name in ("_sum_o", "_sum_e", "_disp"):
                state[name] = array("d", state[name])
            state["_disp_ew"] = array("d", [*state.pop("_disp_num"), *state.pop("_disp_den")])
            state["_obs"], state["_exp"] = array("f", state["_obs"]), array("f", state["_exp"])
            state["_spans"], state["_minutes"] = tuple(state["_spans"]), tuple(state["_minutes"])
        for name, value in state.items():
            if type(value) is array:  # no room to grow (an unpickled array has a fifth more)
                value = array(value.typecode, value)
            setattr(self, name, value)
        share_attributes(self, _PARAMETERS)
        if old:  # the sums of the ring's values as it now keeps them
            self._resum()

    @property
    def _pos(self) -> int:
        """Next ring index to write."""
        return self._pushes % len(self._obs)

    @property
    def _filled(self) -> int:
        """Buckets the ring holds."""
        n = self._pushes
        size = len(self._obs)
        return n if n < size else size

    @property
    def _expected_key(self) -> str:
        """Key of an expectation given with the bucket (it wins over the own baseline)."""
        return f"expected_{self.signal}"

    @property
    def _disp_alpha(self) -> float:
        """Weight of a calm bucket in the dispersion's EW sums (about four days of buckets)."""
        return 1.0 / max(50.0, 86_400 / self.bucket_seconds / 4)

    # -- state ---------------------------------------------------------------------------------
    @property
    def learning(self) -> bool:
        """True while still in warm-up: scores are 0 and the series is not known to be calm."""
        return self._learned_seconds < self.warmup

    @property
    def baseline(self) -> SeasonalBaseline | None:
        """The seasonal baseline (read-only use); None while expectations are given from outside."""
        return self._baseline

    def _own_baseline(self) -> SeasonalBaseline:
        if self._baseline is None:
            self._baseline = SeasonalBaseline(self.bucket_seconds, weekly=self.weekly)
        return self._baseline

    @property
    def window_minutes(self) -> list[int]:
        """The distinct window lengths in use, in minutes."""
        return list(self._minutes)

    def dispersions(self) -> dict[int, float]:
        """Current dispersion estimate per window (minutes)."""
        return {m: self._dispersion(i) for i, m in enumerate(self._minutes)}

    def _dispersion(self, i: int) -> float:
        return self._disp[i]

    @staticmethod
    def _clip(num: float, den: float) -> float:
        """The dispersion of one window from its EW sums (kept in ``_disp``: read every bucket)."""
        return min(2.0, max(0.002, num / max(den, 1e-9)))

    def current_sums(self) -> list[float]:
        """Observed sums per window over the buckets learned so far (the last one included)."""
        return list(self._sum_o)

    def window(self, minutes: int) -> tuple[float, float, float]:
        """Observed sum, expected sum and dispersion of the ``minutes`` window over the buckets learned."""
        i = self._minutes.index(minutes)
        return self._sum_o[i], self._sum_e[i], self._dispersion(i)

    def current_excesses(self) -> list[float]:
        """Observed minus expected sums per window over the buckets learned so far (the last one included).

        Right after :meth:`update`, the excess of each window as the reading judged it.
        """
        return [o - e for o, e in zip(self._sum_o, self._sum_e, strict=True)]

    def window_sums(self, observed: float, expected: float) -> tuple[list[float], list[float]]:
        """Observed and expected sums per window over the last buckets plus a new one (not learned)."""
        pos, filled, obs, exp = self._pos, self._filled, self._obs, self._exp
        sum_o, sum_e = self._sum_o, self._sum_e
        o: list[float] = []
        e: list[float] = []
        observed, expected = _single(observed), _single(expected)  # as the ring will keep them
        for i, span in enumerate(self._spans):
            if filled >= span:  # the ring holds the longest span: a negative index wraps
                o.append(sum_o[i] - obs[pos - span] + observed)
                e.append(sum_e[i] - exp[pos - span] + expected)
            else:
                o.append(sum_o[i] + observed)
                e.append(sum_e[i] + expected)
        return o, e

    # -- river API -----------------------------------------------------------------------------
    def learn_one(self, x: dict[Hashable, Any]) -> None:
        """Learn one bucket (updates the baseline, the windows and the dispersion)."""
        self.update(x)

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """Anomaly score in [0, 1] of one bucket, without learning it."""
        return self.score_of(self.read(x))

    @staticmethod
    def score_of(reading: Reading) -> float:
        """Map a reading to [0, 1]: grows with the surprise, saturating around 1e-20."""
        if reading.learning or reading.missing:
            return 0.0
        return 1.0 - math.exp(-reading.surprise / 8.0)

    # -- the work ------------------------------------------------------------------------------
    def read(self, x: Mapping[Hashable, Any]) -> Reading:
        """Judge one bucket against the state learned so far (no mutation)."""
        t = float(x["t"])
        observed = float(x.get(self.signal) or 0.0)
        given = x.get(self._expected_key)
        expected = self._own_baseline().expected(t) if given is None else float(given)
        return self._judge(t, observed, expected, bool(x.get("missing")))[0]

    def update(self, x: Mapping[Hashable, Any]) -> Reading:
        """Judge one bucket, then learn it; returns the reading (what the radar uses)."""
        given = x.get(self._expected_key)
        t, observed = float(x["t"]), float(x.get(self.signal) or 0.0)
        expected = None if given is None else float(given)
        missing, learn_own = bool(x.get("missing")), self._expected_key not in x
        if _core is not None:
            return _core.surge_update(self, t, observed, expected, missing, learn_own)
        return self._update(t, observed, expected, missing, learn_own)

    def update_counts(
        self, t: float, observed: float, expected: float | None = None, missing: bool = False
    ) -> Reading:
        """:meth:`update` with the bucket as values instead of a feature dict (no dict to build).

        ``expected`` plays the part of ``expected_<signal>``: when given, the detector's own
        baseline is neither used nor kept.
        """
        if _core is not None:
            return _core.surge_update(self, t, observed, expected, missing, expected is None)
        return self._update(t, observed, expected, missing, expected is None)

    def _update(
        self, t: float, observed: float, given: float | None, missing: bool, learn_own: bool
    ) -> Reading:
        """Judge one bucket, then learn it; ``learn_own``: learn the bucket into the own baseline
        (else it is dropped: the expectation comes from outside).

        The pure-Python update: ``_core.surge_update`` does the same when the extension is built.
        """
        expected = self._own_baseline().expected(t) if given is None else given
        reading, sums = self._judge(t, observed, expected, missing)
        if missing:
            self._push(0.0, 0.0)
            self._cusum = 0.0
            return reading
        gate = self.gate
        surprised = reading.surprise >= gate or reading.low_surprise >= gate
        self._surprised_for = self._surprised_for + self.bucket_seconds if surprised else 0.0
        weight = 1.0
        learning = reading.learning
        if surprised and not learning:
            ramp = max(0.0, self._surprised_for - self.adapt_after) / max(self.adapt_after, 1.0)
            weight = min(1.0, self.trickle + ramp)
        if learn_own:
            self._own_baseline().learn(t, observed, weight)
        else:  # an expectation given from outside needs no baseline here: free its memory
            self._baseline = None
        if not surprised and self._learned_seconds >= self.warmup / 2:
            sums = sums or self.window_sums(observed, expected)
            self._learn_dispersion(sums)
        if not learning:
            # not the CUSUM of the read: the dispersion may just have moved
            self._cusum = self._next_cusum(observed, expected)
        self._push(observed, expected, sums)
        self._learned_seconds += self.bucket_seconds
        return reading

    def _judge(
        self, t: float, observed: float, expected: float, missing: bool
    ) -> tuple[Reading, tuple[list[float], list[float]] | None]:
        """The reading of a bucket against the state learned so far, plus the window sums when
        they were computed (no mutation)."""
        learning = self._learned_seconds < self.warmup
        if missing:
            return _reading(
                (t, observed, expected, 0.0, 0.0, 0.0, 0, 0.0, 0.0, False, 0.0, learning, True, False)
            ), None
        disp = self._disp
        # band(expected, disp[0]), inline: its standard deviation is also the CUSUM's
        sd = math.sqrt(expected + disp[0] * expected * expected)
        lo = expected - 3.0 * sd
        lo = lo if lo > 0.0 else 0.0  # max(0.0, lo)
        hi = expected + 3.0 * sd
        if learning:
            fields = (t, observed, expected, lo, hi, 0.0, 0, observed, expected, False, 0.0, True)
            return _reading((*fields, False, False)), None
        # the window sums (window_sums()) and their surprises in one pass: this runs every bucket
        pos, filled, obs, exp = self._pos, self._filled, self._obs, self._exp
        sum_o, sum_e = self._sum_o, self._sum_e
        o: list[float] = []
        e: list[float] = []
        sums = o, e
        best_s, best_i, fired_i, fired_ratio, fired_s = 0.0, 0, -1, 0.0, 0.0
        trigger, min_excess = self.trigger, self.min_excess
        observed_1, expected_1 = _single(observed), _single(expected)  # as the ring will keep them
        for i, span in enumerate(self._spans):
            if filled >= span:  # the ring holds the longest span: a negative index wraps
                oi = sum_o[i] - obs[pos - span] + observed_1
                ei = sum_e[i] - exp[pos - span] + expected_1
            else:
                oi = sum_o[i] + observed_1
                ei = sum_e[i] + expected_1
            o.append(oi)
            e.append(ei)
            if oi <= ei or oi <= 0.0:  # no upper surprise (0): neither the best nor a trigger
                continue
            s = upper_surprise(oi, ei, disp[i])
            if s > best_s:
                best_s, best_i = s, i
            if s >= trigger and oi - ei >= min_excess:
                r = oi / max(ei, 1e-9)
                if r > fired_ratio:
                    fired_i, fired_ratio, fired_s = i, r, s
        low = 0.0
        if observed <= 0:
            low = lower_surprise(0.0, self.zero_run_expected + expected, disp[0])
        if fired_i >= 0:
            i, m = fired_i, self._minutes[fired_i]
            return _reading(
                (t, observed, expected, lo, hi, fired_s, m, o[i], e[i], True, low, False, False, False)
            ), sums
        # the CUSUM (_next_cusum), inline with the band's standard deviation
        cusum = max(0.0, self._cusum * 0.995 + (observed - expected) / max(sd, 0.5) - self.cusum_k)
        cusum_surprise = trigger * cusum / self.cusum_h
        if cusum_surprise > best_s:
            # a slow burn: report it over the longest window
            i = len(o) - 1
            fired = cusum_surprise >= trigger and o[i] - e[i] >= min_excess
            m = self._minutes[i]
            fields = (t, observed, expected, lo, hi, cusum_surprise, m, o[i], e[i], fired, low, False)
            return _reading((*fields, False, True)), sums
        i, m = best_i, self._minutes[best_i]
        return _reading(
            (t, observed, expected, lo, hi, best_s, m, o[i], e[i], False, low, False, False, False)
        ), sums

    def mark_missing(self, buckets: int) -> None:
        """Forget the last ``buckets`` buckets from the windows (found to be missing after the fact)."""
        pos, size = self._pos, len(self._obs)
        for k in range(1, min(buckets, self._filled) + 1):
            idx = (pos - k) % size
            self._obs[idx] = 0.0
            self._exp[idx] = 0.0
        self._resum()
        self._cusum = 0.0

    def _next_cusum(self, observed: float, expected: float) -> float:
        sd = math.sqrt(expected + self._disp[0] * expected * expected)
        z = (observed - expected) / max(sd, 0.5)
        return max(0.0, self._cusum * 0.995 + z - self.cusum_k)

    def _learn_dispersion(self, sums: tuple[list[float], list[float]]) -> None:
        a = self._disp_alpha
        o_all, e_all = sums
        ew, disp, filled = self._disp_ew, self._disp, self._filled
        k = len(disp)
        for i, span in enumerate(self._spans):
            e = e_all[i]
            if filled < span - 1 or e <= 0:
                continue
            o = o_all[i]
            var_now = e + disp[i] * e * e
            sq, cap = (o - e) ** 2, 16.0 * var_now  # winsorised at 4 standard deviations:
            sq = cap if cap < sq else sq  # min(sq, cap), inline
            n = ew[i] = ew[i] + a * ((sq - e) - ew[i])
            d = ew[k + i] = ew[k + i] + a * (e * e - ew[k + i])
            d = d if d > 1e-9 else 1e-9  # as _clip, inline: this runs for every calm bucket
            r = n / d
            r = r if r > 0.002 else 0.002
            disp[i] = r if r < 2.0 else 2.0

    def _push(
        self, observed: float, expected: float, sums: tuple[list[float], list[float]] | None = None
    ) -> None:
        """Append a bucket to the windows; ``sums`` are :meth:`window_sums` of it when known."""
        o, e = sums or self.window_sums(observed, expected)
        self._sum_o, self._sum_e = array("d", o), array("d", e)
        pos = self._pos
        self._obs[pos] = observed
        self._exp[pos] = expected
        if observed > 0:
            self.zero_run, self.zero_run_expected = 0, 0.0
        else:
            self.zero_run += 1
            self.zero_run_expected += expected
        self._pushes += 1
        if self._pushes % 10_000 == 0:
            self._resum()

    def _resum(self) -> None:
        """Recompute the window sums from the ring (bounds floating-point drift)."""
        pos, filled, size = self._pos, self._filled, len(self._obs)
        for i, span in enumerate(self._spans):
            idx = [(pos - k) % size for k in range(1, min(span, filled) + 1)]
            self._sum_o[i] = sum(self._obs[j] for j in idx)
            self._sum_e[i] = sum(self._exp[j] for j in idx)
