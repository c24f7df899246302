# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The per-bucket update of a stream's detectors, compiled (an optional extension module).

What :meth:`CrisisDetector.update_counts <detectors.crisis.CrisisDetector.update_counts>` does for
every bucket of every stream (two :class:`~detectors.surge.SurgeDetector` updates with their
:class:`~detectors.seasonal.SeasonalBaseline`, then the assessment) costs about 40 µs in pure Python,
nearly all of it interpreter overhead. The functions here do the same on the same objects: they read
and write the very attributes the Python methods do, with the same floating-point operations in the
same order (``betainc`` is ``scipy.special.cython_special``'s, the function the Python code calls;
``pow``, ``log10``, ``sqrt`` and ``exp`` are the C library's, as Python's), so the readings and the
state are bit-identical and pickles do not depend on whether this module is built. Rare paths (a
week rolling over in the weekly memory, window sums re-summed, a source going silent, a non-finite
time) call the Python methods.

The Python modules use these functions when this module imports (``detectors.surge._core``,
``detectors.crisis._core``); ``tests/test_compiled.py`` runs both on the same series.
"""

from cpython.array cimport array
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_SET_ITEM
from cpython.buffer cimport PyBUF_ND, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from libc.math cimport copysign, exp, fabs, floor, fmod, log, log10, nearbyint, pow, sqrt
from scipy.special.cython_special cimport betainc

cdef enum:
    MAX_SPANS = 16  # windows per detector handled here (more: the Python methods)

cdef long SLOT_SECONDS = 300
cdef long DAY_SLOTS = 288
cdef long WEEK_SLOTS = 7 * 288
cdef long WEEK_SHIFT = 3 * 288
cdef long WEEK_BYTES = WEEK_SLOTS // 8
# the weekly memory's codes (detectors.seasonal.week_code, DECODED)
cdef double DECODED[256]
cdef double CODE_FLOOR = 0.0, LOG_RATIO = 0.0, CODE_ZERO_BELOW = 0.0

# bound on first use (the Python modules import this one while they are being imported)
cdef object Reading = None
cdef object Assessment = None
cdef object surging_of = None  # detectors.crisis._surging

cdef double TINY = 0.0
cdef double MAX_SURPRISE = 0.0
#: the exponent of ``(o - e) ** 2``, as Python computes it (``pow``): a variable, so that the C
#: compiler cannot turn ``pow(x, 2.0)`` into ``x * x``
cdef double SQUARE = 0.0
_SQUARE_EXPONENT = 2.0
cdef double NAN = float("nan")
cdef long CRISIS = 3, WARNING = 2, WATCH = 1

cdef extern from "Python.h":
    object PyType_GenericAlloc(object type, Py_ssize_t nitems)


cdef int _bind() except -1:
    global Reading, Assessment, TINY, MAX_SURPRISE, SQUARE, surging_of, CODE_FLOOR, LOG_RATIO, CODE_ZERO_BELOW
    from detectors import crisis, negbin, seasonal, surge

    if (
        seasonal.SLOT_SECONDS != SLOT_SECONDS
        or seasonal.DAY_SLOTS != DAY_SLOTS
        or seasonal.WEEK_SLOTS != WEEK_SLOTS
        or seasonal._WEEK_SHIFT != WEEK_SHIFT
        or seasonal._LAST != WEEK_SLOTS
        or seasonal._BEFORE != 2 * WEEK_SLOTS
        or seasonal._SEEN_LAST != WEEK_BYTES
        or seasonal._SEEN_BEFORE != 2 * WEEK_BYTES
        or len(seasonal.DECODED) != 256
        or (crisis.WATCH, crisis.WARNING, crisis.CRISIS) != (WATCH, WARNING, CRISIS)
    ):
        raise ImportError("detectors._update does not match detectors.seasonal/crisis: rebuild it")
    TINY = negbin._TINY
    MAX_SURPRISE = negbin.MAX_SURPRISE
    SQUARE = _SQUARE_EXPONENT
    for i in range(256):
        DECODED[i] = seasonal.DECODED[i]
    CODE_FLOOR = seasonal.CODE_FLOOR
    LOG_RATIO = seasonal._LOG_RATIO
    CODE_ZERO_BELOW = seasonal._CODE_ZERO_BELOW
    Reading = surge.Reading
    Assessment = crisis.Assessment
    surging_of = crisis._surging
    return 0


# -- Python's arithmetic where C's differs ---------------------------------------------------------------
cdef inline double _floordiv(double vx, double wx) noexcept:
    """``vx // wx`` for floats, as CPython computes it (``float_floor_div``)."""
    cdef double mod = fmod(vx, wx)
    cdef double div = (vx - mod) / wx
    cdef double floordiv
    if mod:
        if (wx < 0) != (mod < 0):
            mod += wx
            div -= 1.0
    if div:
        floordiv = floor(div)
        if div - floordiv > 0.5:
            floordiv += 1.0
    else:
        floordiv = copysign(0.0, vx / wx)
    return floordiv


cdef inline long _mod(long a, long b) noexcept:
    """``a % b`` for ints with ``b > 0``, as Python computes it (never negative)."""
    cdef long r = a % b
    return r + b if r < 0 else r


cdef inline double _ratio(double a, double b) noexcept:
    return a / b if b > 0 else 0.0


# -- tails (detectors.negbin, detectors.binomial) --------------------------------------------------------
cdef inline double _upper_nb(double observed, double mean, double dispersion) noexcept:
    """``negbin.upper_surprise``."""
    if observed <= mean or observed <= 0.0:
        return 0.0
    cdef double m = 1e-9 if mean < 1e-9 else mean
    cdef double size = 1.0 / (1e-6 if dispersion < 1e-6 else dispersion)
    cdef double p = betainc(observed, size, m / (m + size))
    return -log10(TINY if p < TINY else p) if p == p else 0.0


cdef inline double _lower_nb(double observed, double mean, double dispersion) noexcept:
    """``negbin.lower_surprise``."""
    if observed >= mean:
        return 0.0
    cdef double m = 1e-9 if mean < 1e-9 else mean
    cdef double size = 1.0 / (1e-6 if dispersion < 1e-6 else dispersion)
    cdef double p = betainc(size, (0.0 if observed < 0.0 else observed) + 1.0, size / (m + size))
    return -log10(TINY if p < TINY else p) if p == p else 0.0


cdef inline double _upper_binomial(double k, double n, double p) noexcept:
    """``binomial.upper_surprise``."""
    if n <= 0 or k <= n * p:
        return 0.0
    if p <= 0.0:
        return MAX_SURPRISE
    k = n if n < k else k
    cdef double tail = betainc(k, n - k + 1.0, 1.0 if 1.0 < p else p)
    return -log10(TINY if TINY > tail else tail) if tail == tail else 0.0


# -- the seasonal baseline (detectors.seasonal.SeasonalBaseline) -------------------------------------------
cdef double _smoothed(object b, long day_slot) except? -1.0:
    """``SeasonalBaseline._smoothed``."""
    cdef array day = b._day
    cdef bytearray seen_obj = b._day_n
    cdef const unsigned char* seen = <const unsigned char*>(<char*>seen_obj)
    cdef long full = b._full
    cdef float* d = day.data.as_floats
    cdef long n = seen[day_slot]
    cdef long m, k, j
    cdef double total = 0.0, weight = 0.0, prior
    n = full if full < n else n
    for j in range(5):
        k = _mod(day_slot - 2 + j, DAY_SLOTS)
        m = seen[k]
        m = m if m < full else full
        total += <double>m * <double>d[k]
        weight += <double>m
    if weight <= 0:
        return b._mean
    prior = b._prior
    return (<double>n * <double>d[day_slot] + prior * total / weight) / (<double>n + prior)


cdef double _seasonal(object b, double t) except? -1.0:
    """``SeasonalBaseline.seasonal`` for a finite ``t`` (sets the memo as it does)."""
    cdef double memo_t = b._memo_t
    if t == memo_t:
        return b._memo
    cdef long slot = <long>_floordiv(t, <double>SLOT_SECONDS)
    cdef long day_slot = _mod(slot, DAY_SLOTS)
    cdef double base = _smoothed(b, day_slot)
    cdef long ws = _mod(slot - WEEK_SHIFT, WEEK_SLOTS)
    cdef unsigned char bit = 0x80 >> (ws & 7)
    cdef bytearray seen_obj
    cdef const unsigned char* seen
    cdef double week
    if b.weekly:
        seen_obj = b._week_seen
        seen = <const unsigned char*>(<char*>seen_obj)
        if seen[WEEK_BYTES + (ws >> 3)] & bit and seen[2 * WEEK_BYTES + (ws >> 3)] & bit:
            week = _week_min(b._week, ws)
            base = week if week > base else base
    cdef double value = base * <double>b._scale
    b._memo_t = t
    b._memo = value
    return value


cdef inline unsigned char _week_code(double value) noexcept:
    """``detectors.seasonal.week_code``."""
    if not value > CODE_ZERO_BELOW:
        return 0
    cdef double c = log(value / CODE_FLOOR) / LOG_RATIO
    return 255 if c >= 254.0 else <unsigned char>(nearbyint(c) + 1.0)


def week_code(double value):
    """:func:`_week_code` (for tests)."""
    if Reading is None:
        _bind()
    return _week_code(value)


cdef inline double _week_min(bytearray week, long ws) noexcept:
    """``DECODED[min(week[_LAST + ws], week[_BEFORE + ws])]``."""
    cdef const unsigned char* codes = <const unsigned char*>(<char*>week)
    cdef unsigned char last = codes[WEEK_SLOTS + ws], before = codes[2 * WEEK_SLOTS + ws]
    return DECODED[before if before < last else last]


cdef int _learn_week(object b, long slot, double per_slot, double t) except -1:
    """``SeasonalBaseline._learn_week`` (a new week: the Python method)."""
    cdef long shifted = slot - WEEK_SHIFT
    cdef long ws = _mod(shifted, WEEK_SLOTS)
    cdef long week = (shifted - ws) // WEEK_SLOTS
    if week != <long>b._week_index:
        b._learn_week(slot, per_slot, t)
        return 0
    cdef bytearray codes_obj = b._week
    cdef bytearray seen_obj = b._week_seen
    cdef unsigned char* codes = <unsigned char*>(<char*>codes_obj)
    cdef unsigned char* seen = <unsigned char*>(<char*>seen_obj)
    cdef unsigned char bit = 0x80 >> (ws & 7)
    cdef double k = 0.0, value
    if seen[ws >> 3] & bit:
        if <double>b._scale < 1.0:
            k = _floordiv(t - <double>slot * <double>SLOT_SECONDS, <double><long>b.bucket_seconds)
        value = DECODED[codes[ws]]
        codes[ws] = _week_code(value + (per_slot - value) / (k + 1.0))
    else:
        seen[ws >> 3] |= bit
        codes[ws] = _week_code(per_slot)
    return 0


cdef inline double _level(object b) except? -1.0:
    """``SeasonalBaseline.level``."""
    cdef double lvl_exp = b._lvl_exp
    if lvl_exp <= 1e-9:
        return 1.0
    cdef double r = <double>b._lvl_obs / lvl_exp
    r = r if r > 0.2 else 0.2
    return r if r < 5.0 else 5.0


cdef int _learn(object b, double t, double count, double weight) except -1:
    """``SeasonalBaseline.learn``."""
    cdef double seasonal = _seasonal(b, t)
    b._memo_t = NAN
    cdef double scale = b._scale
    cdef double per_slot = count / scale
    cdef long slot = <long>_floordiv(t, <double>SLOT_SECONDS)
    cdef long day_slot = _mod(slot, DAY_SLOTS)
    cdef array day = b._day
    cdef float* d = day.data.as_floats
    cdef bytearray seen_obj = b._day_n
    cdef unsigned char* seen = <unsigned char*>(<char*>seen_obj)
    cdef long n = seen[day_slot]
    cdef long learned = b._n
    cdef double alpha, inv, mean, value, a, lvl_obs, lvl_exp
    mean = b._mean
    if n:
        alpha = b._day_alpha
        inv = 1.0 / <double>(n + 1)
        alpha = inv if inv > alpha else alpha
        value = d[day_slot]
        d[day_slot] = <float>(value + alpha * weight * (per_slot - value))
        if n < 255:
            seen[day_slot] = <unsigned char>(n + 1)
    else:
        d[day_slot] = <float>(per_slot if learned == 0 else 0.5 * (per_slot + mean))
        seen[day_slot] = 1 if learned == 0 else 2
    if learned * <long>b.bucket_seconds >= 86_400:
        if <double>b._lvl_exp <= 0.0:
            value = mean * scale
            value = 1e-6 if 1e-6 > value else value
            b._lvl_obs = value
            b._lvl_exp = value
        a = <double>b._level_alpha * weight
        lvl_obs = b._lvl_obs
        lvl_exp = b._lvl_exp
        b._lvl_obs = lvl_obs + a * (count - lvl_obs)
        b._lvl_exp = lvl_exp + a * (seasonal - lvl_exp)
    if b.weekly:
        _learn_week(b, slot, per_slot, t)
    learned += 1
    b._n = learned
    b._mean = mean + (per_slot - mean) / <double>(learned if learned < 2000 else 2000)
    return 0


cdef inline object _put(object tup, Py_ssize_t i, object value):
    """Item ``i`` of the new tuple (of a tuple type) ``tup``."""
    Py_INCREF(value)
    PyTuple_SET_ITEM(tup, i, value)  # steals the reference


# -- the surge detector (detectors.surge.SurgeDetector) ---------------------------------------------------
cdef object _reading(
    double t, double observed, double expected, double lo, double hi, double surprise, object window,
    double window_observed, double window_expected, bint triggered, double low, bint learning,
    bint missing, bint by_cusum,
):
    """A :class:`~detectors.surge.Reading` of these fields: what ``tuple.__new__(Reading, fields)`` makes,
    without the tuple of the fields."""
    r = PyType_GenericAlloc(Reading, 14)
    _put(r, 0, t)
    _put(r, 1, observed)
    _put(r, 2, expected)
    _put(r, 3, lo)
    _put(r, 4, hi)
    _put(r, 5, surprise)
    _put(r, 6, window)
    _put(r, 7, window_observed)
    _put(r, 8, window_expected)
    _put(r, 9, triggered)
    _put(r, 10, low)
    _put(r, 11, learning)
    _put(r, 12, missing)
    _put(r, 13, by_cusum)
    return r


cdef object _assessment(
    object t, long severity, str kind, bint buzz, bint silent, bint learning, object volume, object negative,
    double share, double share_baseline, double score, object topic_window,
):
    """An :class:`~detectors.crisis.Assessment` of these fields (no topic looked at yet)."""
    r = PyType_GenericAlloc(Assessment, 15)
    _put(r, 0, t)
    _put(r, 1, severity)
    _put(r, 2, kind)
    _put(r, 3, buzz)
    _put(r, 4, silent)
    _put(r, 5, learning)
    _put(r, 6, volume)
    _put(r, 7, negative)
    _put(r, 8, share)
    _put(r, 9, share_baseline)
    _put(r, 10, score)
    _put(r, 11, topic_window)
    _put(r, 12, "")
    _put(r, 13, 0.0)
    _put(r, 14, False)
    return r


def surge_update(object det, object t, object observed, object given, bint missing, bint learn_own):
    """``SurgeDetector._update``: judge one bucket, then learn it; returns the reading.

    Anything but floats (the readings would hold the values given): the Python method.
    """
    if Reading is None:
        _bind()
    if type(t) is not float or type(observed) is not float or not (given is None or type(given) is float):
        return det._update(t, observed, given, missing, learn_own)
    if given is None:
        return _surge(det, t, observed, False, 0.0, missing, learn_own)
    return _surge(det, t, observed, True, given, missing, learn_own)


cdef object _surge(
    object det, double t, double observed, bint has_given, double given, bint missing, bint learn_own
):
    """``SurgeDetector._update`` (``has_given``: an expectation ``given`` for the bucket); more than
    ``MAX_SPANS`` windows or a time that is not finite: the Python method."""
    cdef tuple spans = det._spans
    cdef Py_ssize_t k = len(spans)
    if k > MAX_SPANS or not (-1e15 < t < 1e15):
        return det._update(t, observed, given if has_given else None, missing, learn_own)
    cdef object baseline = det._baseline
    cdef double expected
    if not has_given:
        if baseline is None:
            baseline = det._own_baseline()
        expected = _seasonal(baseline, t) * _level(baseline)
    else:
        expected = given
    # the window sums with this bucket (window_sums(), as _judge and _push compute them)
    cdef array obs_arr = det._obs
    cdef array exp_arr = det._exp
    cdef float* obs = obs_arr.data.as_floats
    cdef float* exp_ = exp_arr.data.as_floats
    cdef long size = len(obs_arr)
    cdef long pushes = det._pushes
    cdef long pos = pushes % size
    cdef long filled = pushes if pushes < size else size
    cdef array sum_o_arr = det._sum_o
    cdef array sum_e_arr = det._sum_e
    cdef double* sum_o = sum_o_arr.data.as_doubles
    cdef double* sum_e = sum_e_arr.data.as_doubles
    cdef double o[MAX_SPANS]
    cdef double e[MAX_SPANS]
    cdef long span_of[MAX_SPANS]
    cdef Py_ssize_t i
    for i in range(k):
        span_of[i] = spans[i]
    # the bucket's values as the ring will keep them (single precision)
    cdef double observed_1 = <float>observed, expected_1 = <float>expected
    _window_sums(k, span_of, pos, filled, size, obs, exp_, sum_o, sum_e, observed_1, expected_1, o, e)

    # -- _judge
    cdef double learned_seconds = det._learned_seconds
    cdef double warmup = det.warmup
    cdef bint learning = learned_seconds < warmup
    cdef double cusum_prev = 0.0, cusum_k = 0.0
    cdef array disp_arr = det._disp
    cdef double* disp = disp_arr.data.as_doubles
    cdef double sd, lo, hi, oi, ei, s, r, best_s, fired_ratio, fired_s, low, trigger, min_excess
    cdef double cusum, cusum_surprise, d0
    cdef Py_ssize_t best_i = 0, fired_i = -1
    cdef object reading
    cdef tuple minutes
    if missing:
        reading = _reading(t, observed, expected, 0.0, 0.0, 0.0, 0, 0.0, 0.0, False, 0.0, learning, True, False)
    else:
        d0 = disp[0]
        sd = sqrt(expected + d0 * expected * expected)
        lo = expected - 3.0 * sd
        lo = lo if lo > 0.0 else 0.0
        hi = expected + 3.0 * sd
        if learning:
            reading = _reading(
                t, observed, expected, lo, hi, 0.0, 0, observed, expected, False, 0.0, True, False, False
            )
        else:
            best_s, best_i, fired_i, fired_ratio, fired_s = 0.0, 0, -1, 0.0, 0.0
            trigger = det.trigger
            min_excess = det.min_excess
            for i in range(k):
                oi, ei = o[i], e[i]
                if oi <= ei or oi <= 0.0:
                    continue
                s = _upper_nb(oi, ei, disp[i])
                if s > best_s:
                    best_s, best_i = s, i
                if s >= trigger and oi - ei >= min_excess:
                    r = oi / (1e-9 if 1e-9 > ei else ei)
                    if r > fired_ratio:
                        fired_i, fired_ratio, fired_s = i, r, s
            low = 0.0
            if observed <= 0:
                low = _lower_nb(0.0, <double>det.zero_run_expected + expected, d0)
            minutes = det._minutes
            if fired_i >= 0:
                i = fired_i
                reading = _reading(
                    t, observed, expected, lo, hi, fired_s, minutes[i], o[i], e[i], True, low, False, False,
                    False,
                )
            else:
                cusum_prev = det._cusum
                cusum_k = det.cusum_k
                cusum = cusum_prev * 0.995 + (observed - expected) / (0.5 if 0.5 > sd else sd)
                cusum = cusum - cusum_k
                cusum = cusum if cusum > 0.0 else 0.0
                cusum_surprise = trigger * cusum / <double>det.cusum_h
                if cusum_surprise > best_s:
                    i = k - 1
                    reading = _reading(
                        t, observed, expected, lo, hi, cusum_surprise, minutes[i], o[i], e[i],
                        cusum_surprise >= trigger and o[i] - e[i] >= min_excess, low, False, False, True,
                    )
                else:
                    i = best_i
                    reading = _reading(
                        t, observed, expected, lo, hi, best_s, minutes[i], o[i], e[i], False, low, False,
                        False, False,
                    )
    if missing:
        _push(det, 0.0, 0.0, k, span_of, pos, filled, size, obs, exp_, sum_o, sum_e, True, pushes)
        det._cusum = 0.0
        return reading

    # -- the rest of _update
    cdef double gate = det.gate
    cdef double surprise = reading[5]
    cdef double low_surprise = reading[10]
    cdef bint surprised = surprise >= gate or low_surprise >= gate
    cdef double bucket_seconds = det.bucket_seconds
    cdef double surprised_for = (<double>det._surprised_for + bucket_seconds) if surprised else 0.0
    det._surprised_for = surprised_for
    cdef double weight = 1.0, ramp, adapt_after
    if surprised and not learning:
        adapt_after = det.adapt_after
        ramp = surprised_for - adapt_after
        ramp = ramp if ramp > 0.0 else 0.0
        ramp = ramp / (1.0 if 1.0 > adapt_after else adapt_after)
        ramp = <double>det.trickle + ramp
        weight = ramp if ramp < 1.0 else 1.0
    if learn_own:
        if baseline is None:
            baseline = det._own_baseline()
        _learn(baseline, t, observed, weight)
    else:
        det._baseline = None
    if not surprised and learned_seconds >= warmup / 2:
        _learn_dispersion(det, k, span_of, filled, o, e, disp)
    cdef double z
    if not learning:
        d0 = disp[0]
        sd = sqrt(expected + d0 * expected * expected)
        z = (observed - expected) / (0.5 if 0.5 > sd else sd)
        if fired_i >= 0:  # the judge did not read them
            cusum_prev = det._cusum
            cusum_k = det.cusum_k
        cusum = cusum_prev * 0.995 + z - cusum_k
        det._cusum = cusum if cusum > 0.0 else 0.0
    # _push, with the sums computed above
    for i in range(k):
        sum_o[i] = o[i]
        sum_e[i] = e[i]
    _push(det, observed, expected, k, span_of, pos, filled, size, obs, exp_, sum_o, sum_e, False, pushes)
    det._learned_seconds = learned_seconds + bucket_seconds
    return reading


cdef int _learn_dispersion(
    object det, Py_ssize_t k, long* span_of, long filled, double* o_all, double* e_all, double* disp
) except -1:
    """``SurgeDetector._learn_dispersion``."""
    cdef double quarter_day = 86_400 / <double><long>det.bucket_seconds / 4
    cdef double a = 1.0 / (50.0 if 50.0 >= quarter_day else quarter_day)  # _disp_alpha
    cdef array ew = det._disp_ew
    cdef double* num = ew.data.as_doubles
    cdef double* den = num + k
    cdef Py_ssize_t i
    cdef double e, o, var_now, sq, cap, n, d, r
    for i in range(k):
        e = e_all[i]
        if filled < span_of[i] - 1 or e <= 0:
            continue
        o = o_all[i]
        var_now = e + disp[i] * e * e
        sq = pow(o - e, SQUARE)
        cap = 16.0 * var_now
        sq = cap if cap < sq else sq
        n = num[i]
        n = n + a * ((sq - e) - n)
        num[i] = n
        d = den[i]
        d = d + a * (e * e - d)
        den[i] = d
        d = d if d > 1e-9 else 1e-9
        r = n / d
        r = r if r > 0.002 else 0.002
        disp[i] = r if r < 2.0 else 2.0
    return 0


cdef inline int _window_sums(
    Py_ssize_t k, long* span_of, long pos, long filled, long size, float* obs, float* exp_,
    double* sum_o, double* sum_e, double observed, double expected, double* o, double* e,
) except -1:
    """``SurgeDetector.window_sums``: the observed (``o``) and expected (``e``) sums per window over
    the ring's last buckets plus a new one (not learned); the one place _surge and _push take them."""
    cdef Py_ssize_t i
    cdef long span, idx
    for i in range(k):
        span = span_of[i]
        if filled >= span:  # the ring holds the longest span: wrap the index back
            idx = pos - span
            if idx < 0:
                idx += size
            o[i] = sum_o[i] - obs[idx] + observed
            e[i] = sum_e[i] - exp_[idx] + expected
        else:
            o[i] = sum_o[i] + observed
            e[i] = sum_e[i] + expected
    return 0


cdef int _push(
    object det, double observed, double expected, Py_ssize_t k, long* span_of, long pos, long filled,
    long size, float* obs, float* exp_, double* sum_o, double* sum_e, bint compute, long pushes,
) except -1:
    """``SurgeDetector._push``; ``compute``: the window sums of the bucket are not in ``sum_o``/``sum_e``
    yet (else they are); ``pushes``: the buckets pushed before."""
    cdef Py_ssize_t i
    cdef double o[MAX_SPANS]
    cdef double e[MAX_SPANS]
    if compute:
        _window_sums(
            k, span_of, pos, filled, size, obs, exp_, sum_o, sum_e, <float>observed, <float>expected, o, e
        )
        for i in range(k):
            sum_o[i] = o[i]
            sum_e[i] = e[i]
    obs[pos] = <float>observed
    exp_[pos] = <float>expected
    if observed > 0:
        det.zero_run = 0
        det.zero_run_expected = 0.0
    else:
        det.zero_run = <long>det.zero_run + 1
        det.zero_run_expected = <double>det.zero_run_expected + expected
    pushes += 1
    det._pushes = pushes
    if pushes % 10_000 == 0:
        det._resum()
    return 0


# -- the crisis detector (detectors.crisis.CrisisDetector) ------------------------------------------------
def crisis_update_counts(object det, object t, object mentions, object negative):
    """``CrisisDetector.update_counts``."""
    if Reading is None:
        _bind()
    cdef double m = float(mentions or 0.0)
    if det._silent and m > 0:
        det._silent = False
    cdef bint missing = det._silent
    vol = _surge(det._volume, float(t), m, False, 0.0, missing, True)
    return crisis_learn(det, vol, m, float(negative or 0.0), missing, None)


def crisis_learn(object det, object vol, double mentions, double negative, bint missing, object x):
    """``CrisisDetector._learn``: the rest of an update once the volume is judged and learned."""
    if Reading is None:
        _bind()
    cdef object volume = det._volume
    cdef object negative_det = det._negative
    cdef double share_all = det._share_all
    cdef double share_neg, expected
    if share_all > 0:
        share_neg = det._share_neg
        expected = <double>vol[2] * (share_neg / share_all)
        neg = _surge(negative_det, vol[0], negative, True, expected, missing, False)
    elif x is None:
        neg = _surge(negative_det, vol[0], negative, False, 0.0, missing, True)
    else:
        neg = negative_det.update(x)
    cdef long zero_run
    if not det._silent and not vol[11] and mentions <= 0:
        zero_run = volume.zero_run
        if (
            zero_run * <long>det.bucket_seconds >= <double>det.silent_after
            and <double>volume.zero_run_expected >= <double>det.silent_min_expected
            and <double>vol[10] >= <double>det.surprise
        ):
            det._silent = True
            volume.mark_missing(volume.zero_run)
            negative_det.mark_missing(volume.zero_run)
    cdef array totals_arr = volume._sum_o
    cdef double* totals = totals_arr.data.as_doubles
    assessment = _assess(det, vol, neg, totals)
    cdef long severity = assessment[1]
    if severity >= WARNING and <double>det.fade_surprise > 0:  # rare: the Python method
        assessment = det._fade(assessment, totals_arr.tolist())
    elif severity == 0:
        det._faded = False
    cdef double a
    if (
        assessment[1] == 0
        and not assessment[3]
        and not assessment[11]
        and not missing
        and not det._silent
    ):
        a = det._share_alpha
        share_neg = det._share_neg
        share_all = det._share_all
        det._share_neg = share_neg + a * (negative - share_neg)
        det._share_all = share_all + a * (mentions - share_all)
    return assessment


cdef inline double _share_baseline(object det) except? -1.0:
    cdef double share_all = det._share_all
    return <double>det._share_neg / share_all if share_all > 0 else 0.0


cdef object _assess(object det, object vol, object neg, double* totals):
    """``CrisisDetector._assess``."""
    cdef double baseline = _share_baseline(det)
    cdef bint silent = det._silent
    cdef double share
    if vol[11] or vol[12] or silent:
        share = _ratio(neg[1], vol[1])
        return _assessment(
            vol[0], 0, "silent" if silent else "", False, silent, vol[11] and not silent, vol, neg, share,
            baseline, 0.0, 0,
        )
    negative_det = det._negative
    cdef tuple minutes = negative_det._minutes
    cdef Py_ssize_t idx = minutes.index(neg[6])
    cdef double total = totals[idx]
    cdef double window_observed = neg[7]
    cdef double window_expected = neg[8]
    share = _ratio(window_observed, total)
    cdef bint share_up = (
        share >= baseline * <double>det.share_ratio
        and share - baseline >= <double>det.share_lift
        and _upper_binomial(window_observed, total, baseline) >= <double>det.share_surprise
    )
    cdef long severity = 0
    cdef double ratio = window_observed / (1e-9 if 1e-9 > window_expected else window_expected)
    if share_up and neg[9]:
        if ratio >= <double>det.crisis_ratio:
            severity = CRISIS
        elif ratio >= <double>det.warning_ratio:
            severity = WARNING
        else:
            severity = WATCH
    elif (
        share_up
        and <double>neg[5] >= <double>det.surprise - 1.5
        and ratio >= <double>det.watch_ratio
        and window_observed - window_expected >= <double>det.min_excess
    ):
        severity = WATCH
    cdef double vol_expected = vol[8]
    cdef bint buzz = (
        severity < WARNING
        and vol[9]
        and <double>vol[7] / (1e-9 if 1e-9 > vol_expected else vol_expected) >= <double>det.watch_ratio
    )
    cdef double score = 0.0
    if severity and not neg[11] and not neg[12]:
        score = 1.0 - exp(-<double>neg[5] / 8.0)
    kind = "crisis" if severity else ("buzz" if buzz else "")
    topic_window = _sustained_window(det, negative_det, minutes, totals, baseline) if severity < WARNING else 0
    return _assessment(vol[0], severity, kind, buzz, False, False, vol, neg, share, baseline, score, topic_window)


cdef object _sustained_window(object det, object negative_det, tuple minutes, double* totals, double baseline):
    """``CrisisDetector._sustained_window``."""
    cdef array sum_o_arr = negative_det._sum_o
    cdef array sum_e_arr = negative_det._sum_e
    cdef array disp_arr = negative_det._disp
    cdef double* sum_o = sum_o_arr.data.as_doubles
    cdef double* sum_e = sum_e_arr.data.as_doubles
    cdef double* disp = disp_arr.data.as_doubles
    cdef double observed, expected, dispersion, total, share
    cdef double topic_ratio = det.topic_ratio
    cdef double min_excess = det.min_excess
    cdef Py_ssize_t i
    cdef object surging = None
    for w in det.topic_windows:
        i = minutes.index(w)
        observed = sum_o[i]
        expected = sum_e[i]
        dispersion = disp[i]
        if observed < expected * topic_ratio or observed - expected < min_excess:
            continue
        if surging is None:  # rare: the Python function
            surging = surging_of(negative_det, det.fade_surprise)
        if not surging[minutes.index(w)]:
            continue
        total = totals[minutes.index(w)]
        share = _ratio(observed, total)
        if (
            share >= baseline * <double>det.share_ratio
            and share - baseline >= <double>det.share_lift
            and _upper_nb(observed, expected, dispersion) >= <double>det.topic_min_surprise
            and _upper_binomial(observed, total, baseline) >= <double>det.topic_share_surprise
        ):
            return w
    return 0
