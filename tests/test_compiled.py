"""The compiled per-bucket code gives exactly what the pure-Python code gives.

``detectors/_update.pyx`` (the detectors' update of a bucket), ``radar/_termsketch.pyx`` (the term
sketch's learning loop), ``radar/_recent.pyx`` (the recent activity's update of a bucket) and
``radar/_topterms.pyx`` (a closed bucket's top terms) are optional extension modules: without them the
Python code does the work.
Here both run on the same random series and every field of every reading and assessment must be
bit-identical (floats compared by their bits), and so must the pickled state, which must also round-trip
between the two: a detector pickled while the extension is in use unpickles and carries on under either.
"""

from __future__ import annotations

import math
import pickle
import random
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import detectors.crisis as crisis_module
import detectors.surge as surge_module
import radar.recent as recent_module
import radar.terms as terms_module
import radar.windows as windows_module
from detectors.crisis import Assessment, CrisisDetector
from detectors.seasonal import CODE_RATIO, DECODED, week_code
from detectors.surge import SurgeDetector
from radar.recent import TEXT_CHARS, RecentActivity
from radar.terms import TermBaseline
from radar.windows import Bucket as WindowBucket
from radar.windows import Post

CORE = surge_module._core
SKETCH = terms_module._termsketch
RECENT = recent_module._recent
TOPTERMS = windows_module._topterms
needs_core = pytest.mark.skipif(CORE is None, reason="detectors._update is not built")
needs_sketch = pytest.mark.skipif(SKETCH is None, reason="radar._termsketch is not built")
needs_recent = pytest.mark.skipif(RECENT is None, reason="radar._recent is not built")
needs_topterms = pytest.mark.skipif(TOPTERMS is None, reason="radar._topterms is not built")
T0 = 1_772_409_600.0  # Monday 2 March 2026, 00:00 UTC
PROTOCOL = 5  # as radar.checkpoint


def test_the_extensions_are_built() -> None:
    """``pip install`` compiles them (pyproject.toml): a failed build must not go unnoticed."""
    assert CORE is not None and crisis_module._core is CORE
    assert SKETCH is not None
    assert RECENT is not None
    assert TOPTERMS is not None


@contextmanager
def pure_python() -> Iterator[None]:
    """The pure-Python implementation, as where the extensions are not built."""
    modules = surge_module, crisis_module, terms_module, recent_module, windows_module
    names = "_core", "_core", "_termsketch", "_recent", "_topterms"
    saved = [getattr(module, name) for module, name in zip(modules, names, strict=True)]
    for module, name in zip(modules, names, strict=True):
        setattr(module, name, None)
    try:
        yield
    finally:
        for module, name, value in zip(modules, names, saved, strict=True):
            setattr(module, name, value)


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Field by field, floats by their bits (and their types, so no 1 for a 1.0)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, tuple) and hasattr(a, "_fields"):
        for name in a._fields:
            assert_same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, float):
        assert a.hex() == b.hex() or (math.isnan(a) and math.isnan(b)), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


Bucket = tuple[
    float, float, bool
]  # mentions, negative, through update() (a dict) rather than update_counts()


def series(seed: int, n: int, rate: float, bucket_seconds: int) -> list[Bucket]:
    """A seasonal count series with a negative surge, a loud buzz and an outage (a run of zeros)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = i * bucket_seconds
        lam = rate * (1.0 + 0.6 * math.cos(2 * math.pi * t / 86_400)) * bucket_seconds / 60
        share = 0.2
        if 0.55 * n < i < 0.6 * n:
            lam, share = lam * 5 + 3, 0.7
        elif 0.7 * n < i < 0.72 * n:
            lam *= 6
        elif 0.85 * n < i < 0.9 * n:
            lam = 0.0
        mentions = float(np.random.default_rng(rnd.getrandbits(32)).poisson(lam))
        negative = float(sum(rnd.random() < share for _ in range(int(mentions))))
        if rnd.random() < 0.05:  # author-weighted counts are not integers
            mentions, negative = mentions * 0.75, negative * 0.75
        out.append((mentions, negative, rnd.random() < 0.3))
    return out


def run(det: CrisisDetector, buckets: list[Bucket], start: int, bucket_seconds: int) -> list[Assessment]:
    out = []
    for i, (mentions, negative, as_dict) in enumerate(buckets, start):
        t = T0 + i * bucket_seconds
        if as_dict:
            out.append(det.update({"t": t, "mentions": mentions, "negative": negative}))
        else:
            out.append(det.update_counts(t, mentions, negative))
    return out


def both(
    buckets: list[Bucket], bucket_seconds: int, **params: Any
) -> tuple[list[Assessment], list[Assessment], bytes, bytes]:
    """Assessments and the final pickled detector, compiled then pure Python."""
    det = CrisisDetector(bucket_seconds=bucket_seconds, **params)
    compiled = run(det, buckets, 0, bucket_seconds)
    compiled_state = pickle.dumps(det, PROTOCOL)
    with pure_python():
        det = CrisisDetector(bucket_seconds=bucket_seconds, **params)
        python = run(det, buckets, 0, bucket_seconds)
        python_state = pickle.dumps(det, PROTOCOL)
    return compiled, python, compiled_state, python_state


@needs_core
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 700),
    rate=st.sampled_from([0.0, 0.02, 0.3, 2.0, 9.0]),
    bucket_seconds=st.sampled_from([60, 300]),
    warmup_hours=st.sampled_from([0.0, 1.0, 4.0]),
    surprise=st.sampled_from([3.0, 5.0]),
)
def test_crisis_detector_compiled_is_bit_identical(
    seed: int, n: int, rate: float, bucket_seconds: int, warmup_hours: float, surprise: float
) -> None:
    buckets = series(seed, n, rate, bucket_seconds)
    params = {"warmup": warmup_hours * 3600, "surprise": surprise, "silent_after": 1200.0}
    compiled, python, compiled_state, python_state = both(buckets, bucket_seconds, **params)
    for i, (a, b) in enumerate(zip(compiled, python, strict=True)):
        assert_same(a, b, f"bucket {i}")
    assert compiled_state == python_state


@needs_core
def test_weeks_of_data_are_bit_identical() -> None:
    """Five weeks of 5-minute buckets: the weekly memory fills, rolls over and is read; a silent
    source; the window sums re-summed (every 10,000 buckets)."""
    buckets = series(7, 10_300, 3.0, 300)
    compiled, python, compiled_state, python_state = both(buckets, 300, warmup=86_400.0)
    for i, (a, b) in enumerate(zip(compiled, python, strict=True)):
        assert_same(a, b, f"bucket {i}")
    assert compiled_state == python_state
    assert any(a.severity for a in compiled) and any(a.silent for a in compiled)
    det = pickle.loads(compiled_state)
    assert det.volume.baseline is not None and det.volume.baseline._week_seen.count(0) < 3 * 252
    assert det.volume._pushes >= 10_000


@needs_core
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 400),
    given_share=st.floats(0.0, 1.0),
    windows=st.sampled_from([(1, 5, 15, 60, 240), (5, 30), (1,)]),
)
def test_surge_detector_compiled_is_bit_identical(
    seed: int, n: int, given_share: float, windows: tuple[int, ...]
) -> None:
    """The surge detector alone, with and without an expectation given, and buckets marked missing."""
    buckets = series(seed, n, 1.5, 60)
    rnd = random.Random(seed)
    flags = [(rnd.random() < 0.05, rnd.random() < 0.3) for _ in buckets]

    def go() -> tuple[list[Any], bytes]:
        det = SurgeDetector(60, "mentions", windows, warmup=1800.0, trigger=4.0, min_excess=2.0)
        out: list[Any] = []
        for i, ((mentions, _neg, as_dict), (missing, with_expected)) in enumerate(
            zip(buckets, flags, strict=True)
        ):
            t = T0 + i * 60.0
            expected = mentions * given_share + 0.5 if with_expected else None
            if as_dict:
                x: dict[str, Any] = {"t": t, "mentions": mentions, "missing": missing}
                if with_expected:
                    x["expected_mentions"] = expected
                out.append(det.update(x))
            else:
                out.append(det.update_counts(t, mentions, expected, missing))
        return out, pickle.dumps(det, PROTOCOL)

    compiled, compiled_state = go()
    with pure_python():
        python, python_state = go()
    for i, (a, b) in enumerate(zip(compiled, python, strict=True)):
        assert_same(a, b, f"bucket {i}")
    assert compiled_state == python_state


@needs_core
def test_values_that_are_not_floats_take_the_python_path() -> None:
    """Readings hold the values given (an int stays an int), as the Python method does."""
    det, ref = SurgeDetector(60, warmup=0.0), SurgeDetector(60, warmup=0.0)
    with pure_python():
        expected = [ref.update_counts(T0 + i * 60, i % 4) for i in range(50)]
    for i, want in enumerate(expected):
        assert_same(det.update_counts(T0 + i * 60, i % 4), want, f"bucket {i}")


@needs_core
def test_pickles_round_trip_between_compiled_and_python() -> None:
    """A detector pickled while the extension is in use unpickles (with it, or without it) and
    carries on exactly as one that never stopped."""
    buckets = series(3, 1500, 2.0, 60)
    half = 800
    with pure_python():
        reference = run(CrisisDetector(60, warmup=3600.0), buckets, 0, 60)
    det = CrisisDetector(60, warmup=3600.0)
    run(det, buckets[:half], 0, 60)
    blob = pickle.dumps(det, PROTOCOL)
    for name, context in (("compiled", None), ("python", pure_python)):
        restored = pickle.loads(blob)
        if context is None:
            rest = run(restored, buckets[half:], half, 60)
        else:
            with context():
                rest = run(restored, buckets[half:], half, 60)
        for i, (a, b) in enumerate(zip(rest, reference[half:], strict=True)):
            assert_same(a, b, f"{name} bucket {half + i}")
        assert (
            pickle.loads(pickle.dumps(restored, PROTOCOL)).volume.current_sums()
            == restored.volume.current_sums()
        )


@needs_core
@settings(max_examples=500, deadline=None)
@given(
    v=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(0.0, 200_000.0),
        st.floats(0.018, 0.022),
        st.sampled_from([0.0, *DECODED, *(DECODED[c] * math.sqrt(CODE_RATIO) for c in range(1, 256))]),
    )
)
def test_weekly_codes_are_the_python_codes(v: float) -> None:
    """A value's code in the weekly memory, compiled and in Python (ties included: half a step up)."""
    assert CORE.week_code(v) == week_code(v)  # type: ignore[union-attr]


WORDS = ["flight", "cancelled", "refund", "café", "naïve", "日本", "a", "x" * 40]


@needs_sketch
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), width=st.sampled_from([16, 1000, 1024]))
def test_term_sketch_compiled_is_bit_identical(seed: int, width: int) -> None:
    def go() -> bytes:
        rnd = random.Random(seed)
        baseline = TermBaseline(width=width, half_life_buckets=40.0)  # the lazy decay folds, too
        for _ in range(400):
            terms = Counter(
                {
                    rnd.choice(WORDS) + str(rnd.randint(0, 500)): rnd.randint(1, 9)
                    for _ in range(rnd.randint(0, 30))
                }
            )
            if rnd.random() < 0.1:  # str subclasses (numpy's str_) encode themselves
                terms = Counter({np.str_(term): count for term, count in terms.items()})
            baseline.learn(terms if rnd.random() < 0.8 else dict(terms), sum(terms.values()))
        return pickle.dumps(baseline, PROTOCOL)

    compiled = go()
    with pure_python():
        assert go() == compiled


@needs_sketch
@given(st.text(max_size=40))
def test_term_sketch_crc32_is_zlibs(term: str) -> None:
    try:
        encoded = term.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: no UTF-8, in either
        return
    assert SKETCH.crc32(term) == zlib.crc32(encoded)  # type: ignore[union-attr]


def recent_buckets(seed: int, n: int) -> list[WindowBucket]:
    """Closed buckets of one stream with what the compiled update must treat as the Python code does:
    ties in amplification, texts to cut, posts that do not pack (an int amplification, counts beyond
    64 bits, an id beyond 65,535 bytes), non-ASCII and lone surrogates, terms new to the table, counts
    and figures too wide for their columns, empty buckets, and (late on) starts of fractional seconds."""
    rnd = random.Random(seed)
    out = []
    serial = 0
    for i in range(n):
        start = T0 + i * 60.0 + (0.5 if i > 0.9 * n and rnd.random() < 0.5 else 0.0)
        b = WindowBucket("s", start, 60)
        if rnd.random() < 0.2:
            out.append(b)
            continue
        b.mentions = rnd.choice([1, 3, 20, 300, 70_000]) if rnd.random() < 0.1 else rnd.randint(1, 9)
        b.negative = rnd.randint(0, b.mentions)
        b.positive = b.mentions - b.negative
        b.terms = Counter(
            {
                rnd.choice(WORDS) + str(rnd.randint(0, 60 if rnd.random() < 0.9 else 10**6)): (
                    1 if rnd.random() < 0.6 else rnd.choice([2, 3, 400, 70_000])
                )
                for _ in range(rnd.randint(1, 30))
            }
        )
        for _ in range(rnd.randint(0, 5)):
            serial += 1
            amplification: Any = float(rnd.choice([1, 5, 5, 20, rnd.randint(0, 10_000)]))
            followers, reshares, id_ = rnd.randint(0, 10**6), rnd.randint(0, 9), f"p{serial}"
            text = rnd.choice(["late again", "x" * (TEXT_CHARS + 9), "café \ud83d", "te\x00xt 日本"])
            odd = rnd.random()
            if odd < 0.03:
                amplification = int(amplification)
            elif odd < 0.06:
                followers = 2**70
            elif odd < 0.08:
                id_ = "i" * 70_000 + id_
            post = Post(
                amplification, id_, f"u/{serial}", rnd.choice(["ann", "zoë", ""]), followers, reshares, text
            )
            b.posts.append(post)
            if rnd.random() < 0.4:
                b.negative_posts.append(post)
        out.append(b)
    return out


def recent_state(recent: RecentActivity) -> list[tuple[str, Any]]:
    """Every column of ``recent`` with its kind (arrays of equal values but other types are unequal)."""
    out = []
    for name in sorted(recent_module._STATE):
        value = getattr(recent, name)
        if hasattr(value, "__slots__"):  # the candidate posts
            out.append((name, [(k, getattr(value, k)) for k in value.__slots__]))
        else:
            out.append((name, (getattr(value, "typecode", type(value).__name__), value)))
    return out


def recent_answers(recent: RecentActivity, since: float) -> list[Any]:
    """Every query from ``since`` on (the terms in their order)."""
    terms, mentions = recent.terms(since)
    return [
        recent.top_posts(since),
        recent.top_posts(since, negative=True),
        list(terms.items()),
        mentions,
        recent.counts(since),
        list(recent),
    ]


@needs_recent
@pytest.mark.parametrize("seed", range(6))
def test_recent_activity_compiled_is_identical(seed: int) -> None:
    """Column by column after every bucket, and every query, as the Python code leaves and answers them."""
    buckets = recent_buckets(seed, 900)
    compiled, python = RecentActivity(3 * 3600.0), RecentActivity(3 * 3600.0)
    for i, b in enumerate(buckets):
        compiled.add(b)
        with pure_python():
            python.add(b)
        assert recent_state(compiled) == recent_state(python), f"bucket {i}"
        if i % 10 == 0 or i == len(buckets) - 1:
            since = b.end - 60.0 * (i % 200)
            answers = recent_answers(compiled, since)
            with pure_python():
                assert answers == recent_answers(python, since), f"bucket {i}"
    assert pickle.dumps(compiled, PROTOCOL) == pickle.dumps(python, PROTOCOL)
    assert compiled._starts.typecode == "d"  # the fractional starts came, and took the Python path
    assert {compiled._figures.typecode, compiled._other.typecode} == {"I"}  # widened


@needs_recent
@settings(max_examples=300, deadline=None)
@given(
    amplification=st.one_of(st.floats(allow_nan=False), st.integers(0, 10)),
    strings=st.lists(st.text(max_size=20), min_size=4, max_size=4),
    followers=st.one_of(st.integers(-(2**64), 2**64), st.booleans()),
    reshares=st.integers(-(2**63) - 1, 2**63),
)
def test_posts_pack_as_the_python_code_packs_them(
    amplification: float, strings: list[str], followers: int, reshares: int
) -> None:
    id_, url, author, text = strings
    post = Post(amplification, id_, url, author, followers, reshares, text)
    packed = RECENT.pack(post)  # type: ignore[union-attr]
    assert type(packed) is type(recent_module._pack(post))
    assert packed == recent_module._pack(post)
    if isinstance(packed, bytes):
        assert recent_module._unpack(float(amplification), packed) == post


@needs_recent
def test_recent_activity_columns_narrow_again_as_the_python_code_narrows_them() -> None:
    """Places of counts beyond 65,535 terms widen their column; once the buckets holding them are cut
    off, the column narrows again (the Python helper, in both)."""
    compiled, python = RecentActivity(600.0), RecentActivity(600.0)
    widths = []
    for i in range(20):
        b = WindowBucket("s", T0 + i * 60.0, 60)
        size = 30_000 if i in (1, 2, 3) else 3
        b.terms = Counter({f"wide{i}-{k}": 2 if k % 3 else 1 for k in range(size)})
        b.mentions = b.positive = 2
        compiled.add(b)
        with pure_python():
            python.add(b)
        assert recent_state(compiled) == recent_state(python), f"bucket {i}"
        widths.append(compiled._other_at.typecode)
        with pure_python():
            assert recent_answers(compiled, b.end - 300.0) == recent_answers(python, b.end - 300.0)
    assert "I" in widths and widths[-1] == "H"  # widened, then cut off and narrowed


#: Terms whose order a byte comparison could get wrong: prefixes of each other, non-ASCII (of one, two
#: and four bytes a character), a lone surrogate, the empty term.
TERMS_TO_ORDER = [
    "",
    "a",
    "ab",
    "abc",
    "b",
    "ba",
    "z",
    "é",
    "ée",
    "e",
    "日本",
    "日",
    "\U0001f600",
    "\ud800",
    "A",
]


@needs_topterms
@settings(max_examples=400, deadline=None)
@given(
    counts=st.dictionaries(
        st.one_of(st.sampled_from(TERMS_TO_ORDER), st.text(max_size=6)),
        st.one_of(st.integers(1, 4), st.integers(-(2**64), 2**64)),
        max_size=300,
    ),
    n=st.sampled_from([0, 1, 3, 25, 400, -1]),
    counter=st.booleans(),
)
def test_top_terms_compiled_are_the_pythons(counts: dict[str, int], n: int, counter: bool) -> None:
    given_counts = Counter(counts) if counter else counts
    compiled = windows_module.top_terms(given_counts, n)  # type: ignore[arg-type]
    with pure_python():
        python = windows_module.top_terms(given_counts, n)  # type: ignore[arg-type]
    assert list(compiled.items()) == list(python.items())
    assert type(compiled) is dict


@needs_topterms
def test_top_terms_of_other_kinds_take_the_python_path() -> None:
    assert TOPTERMS.top_terms({"a": 1.5}, 3) is None  # type: ignore[union-attr]
    assert TOPTERMS.top_terms({np.str_("a"): 1}, 3) is None  # type: ignore[union-attr]
    assert TOPTERMS.top_terms({"a": 2**63}, 3) is None  # type: ignore[union-attr]
    assert TOPTERMS.top_terms({"a": 1}, -1) is None  # type: ignore[union-attr]
    assert TOPTERMS.top_terms({"b": 1, "a": 1, "c": 2}, 2) == {"c": 2, "a": 1}  # type: ignore[union-attr]
