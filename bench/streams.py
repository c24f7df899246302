"""Per-stream cost of the radar at scale: CPU per bucket-close tick and memory per stream.

    python bench/streams.py [--streams 10000] [--minutes 1440] [--out bench/results/streams.json]
    python bench/streams.py --quick          # smoke test: 200 streams, 2 hours, no file unless --out

Runs ``--streams`` streams through one simulated day of 1-minute buckets in the real
:class:`~radar.pipeline.Pipeline` and reports, per variant:

* **CPU per stream per bucket**: the process time of each tick (one ``Pipeline.advance`` that closes
  one bucket of every stream: windows, ``CrisisDetector.update``, terms baseline, the recent buckets
  kept for the why of alerts, escalation, the per-stream figures) divided by the number of streams;
  the median, p95, mean and max over the ticks. Garbage collections that happen inside a tick are
  included (and reported separately too), and so is the GC time of the whole day (most collections are
  triggered by the mentions going in, but their cost grows with the state every stream keeps). The
  collector is set as the ``radar`` command sets it (:func:`radar.garbage.tune`: young threshold
  50,000); ``--gc-young 700`` measures CPython's default instead.
* **the detector alone**: ``CrisisDetector.update`` on the same counts, one detector per stream, timed
  the same way (the per-call loop and the feature dict are included: about 0.2 µs).
* **a metrics scrape**: ``RadarMetrics.exposition()`` (which reads every stream's sample), per stream,
  timed outside the ticks every hour of the day.
* **memory per stream**, at 17:00 (after the busiest four hours, which the recent buckets then hold)
  and at the end of the day: RSS growth of the process since before the streams existed, divided by
  the streams; the tracemalloc size of the per-stream state (the unpickled
  ``StreamState`` of a sample of streams, plus the windower, escalation policy, registry, history and
  the table of terms that the streams' recent activity shares, divided by the streams), with its parts;
  and the pickled size of the same (what a checkpoint holds).

Variants: two **loads** (``seasonal``: 0.5-8 mentions a minute per stream, 2.3 on average, a daily
rhythm and negative-binomial noise; ``sparse``: 0.01-0.1 a minute, about 96 % of buckets empty) in
two **phases**: ``learning`` (new streams: their first day, the detectors' 24-hour warm-up, when they
score nothing) and ``trained`` (after warm-up: each stream's detector and term baseline are clones of
a template stream of the same rate trained for two days through a pipeline; the timed day is the
third). ``--surges`` of the streams get a one-hour negative surge (real incidents: escalation and
the why of alerts run).

How buckets are filled: mentions are not parsed, de-duplicated, matched or scored here (that is
ingest cost, measured by ``bench/throughput.py``). Streams are created by ``Pipeline.ingest`` of one
mention each; after that, every mention of a stream goes in through the per-stream part of
``Pipeline.ingest``: ``tokenize`` of a fresh ~80-character text, the stream's ``AuthorActivity`` weight
and ``Windower.add`` with a ``Post``, so the buckets hold what real ones hold. Filling happens
between ticks and is not timed. Each variant runs in a fresh process so RSS figures do not mix.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from detectors.crisis import CrisisDetector
from radar import garbage
from radar.config import RadarConfig
from radar.mention import Mention
from radar.pipeline import Pipeline, StreamState
from radar.recent import TERMS as RECENT_TERMS
from radar.terms import tokenize
from radar.windows import Post

BUCKET_SECONDS = 60
DAY_MINUTES = 1440
PRETRAIN_DAYS = 2
#: Monday 2 March 2026, 00:00 UTC: the first simulated day.
DAY0 = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
#: Minute of the day when the state is measured a first time: the recent buckets then cover 13:00-17:00,
#: the busiest four hours of the daily rhythm (the end of the day, the second measurement, is quieter).
BUSY_MINUTE = 17 * 60
TARGET_CPU_US = 50.0
TARGET_MEMORY_KB = 50.0
PICKLE_PROTOCOL = 5  # as radar.checkpoint


@dataclass(frozen=True)
class Load:
    """Mentions per minute per stream: rate classes (mean over the day) and how often each occurs."""

    name: str
    rates: tuple[float, ...]
    weights: tuple[float, ...]
    negative_share: float = 0.2
    dispersion: float = 0.1  # negative-binomial: variance = m + dispersion * m**2

    @property
    def mean_rate(self) -> float:
        return sum(r * w for r, w in zip(self.rates, self.weights, strict=True)) / sum(self.weights)


LOADS = {
    "seasonal": Load("seasonal", (0.5, 1.0, 2.0, 4.0, 8.0), (0.2, 0.3, 0.25, 0.15, 0.1)),
    "sparse": Load("sparse", (0.01, 0.03, 0.1), (0.4, 0.4, 0.2)),
}
PHASES = ("learning", "trained")


@dataclass(frozen=True)
class Variant:
    """One run: a load, a phase, and what is timed (the whole pipeline or the detector alone)."""

    load: str
    phase: str
    what: str  # "pipeline" | "detector"
    streams: int
    minutes: int
    surges: float
    seed: int
    sample: int  # streams whose state is measured with tracemalloc and pickle
    scrape_every: int  # ticks between timed metrics scrapes (0: never)
    gc_young: int = garbage.YOUNG_THRESHOLD  # the collector's young threshold (as the radar command sets it)


# -- the workload --------------------------------------------------------------------------------------
def daily_curve(minutes: np.ndarray) -> np.ndarray:
    """A daily rhythm of mean 1: low at night (UTC), highest mid-afternoon."""
    phase = 2 * np.pi * ((minutes % DAY_MINUTES) - 15 * 60) / DAY_MINUTES
    return 1.0 + 0.6 * np.cos(phase) + 0.1 * np.cos(2 * phase)


def stream_classes(load: Load, streams: int, rng: np.random.Generator) -> np.ndarray:
    """The rate class of every stream."""
    weights = np.asarray(load.weights) / sum(load.weights)
    return rng.choice(len(load.rates), size=streams, p=weights)


def counts(
    load: Load, classes: np.ndarray, first_minute: int, minutes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Mentions and negative mentions per ``[minute, stream]`` (negative-binomial, seasonal)."""
    rate = (
        np.asarray(load.rates)[classes][None, :]
        * daily_curve(np.arange(first_minute, first_minute + minutes))[:, None]
    )
    shape = 1.0 / load.dispersion
    lam = rate * rng.gamma(shape, 1.0 / shape, size=rate.shape)
    total = rng.poisson(lam)
    negative = rng.binomial(total, load.negative_share)
    return total.astype(np.uint16), negative.astype(np.uint16)


def add_surges(
    total: np.ndarray,
    negative: np.ndarray,
    load: Load,
    classes: np.ndarray,
    share: float,
    rng: np.random.Generator,
) -> int:
    """Give ``share`` of the streams a one-hour negative surge (four times their usual rate, at least
    three mentions a minute) somewhere in the day; returns how many streams got one."""
    minutes, streams = total.shape
    chosen = rng.choice(streams, size=round(share * streams), replace=False) if share > 0 else []
    length = min(60, minutes)
    for i in chosen:
        start = int(rng.integers(0, max(1, minutes - length)))
        extra = rng.poisson(max(3.0, 4.0 * load.rates[classes[i]]), size=length).astype(np.uint16)
        total[start : start + length, i] += extra
        negative[start : start + length, i] += extra
    return len(chosen)


class Feeder:
    """Puts mentions into the pipeline's open buckets the way ``Pipeline.ingest`` does per stream."""

    WORDS = 12  # content words per text (~80 characters)
    AUTHORS = 20_000  # authors per stream; a few of them post often

    def __init__(self, pipeline: Pipeline, names: Sequence[str], rng: np.random.Generator) -> None:
        self.pipeline = pipeline
        self.names = list(names)
        self.rng = rng
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        lengths = rng.integers(3, 10, size=5000)
        self.vocab = ["".join(letters[rng.integers(0, 26, size=n)]) for n in lengths.tolist()]
        self.serial = 0

    def feed(self, start: float, total: np.ndarray, negative: np.ndarray) -> int:
        """Mentions of the bucket starting at ``start``; ``total``/``negative`` per stream."""
        rng, vocab, pipeline = self.rng, self.vocab, self.pipeline
        add, streams = pipeline.windower.add, pipeline.streams
        active = np.flatnonzero(total)
        n = int(total[active].sum())
        if n == 0:
            return 0
        words = (len(vocab) * rng.random((n, self.WORDS)) ** 2).astype(np.int64).tolist()  # Zipf-like
        authors = (self.AUTHORS * rng.random(n) ** 3).astype(np.int64).tolist()
        followers = rng.lognormal(5.0, 2.0, size=n).astype(np.int64).tolist()
        reshares = rng.poisson(0.3, size=n).tolist()
        positive = (rng.random(n) < 0.3).tolist()
        k = 0
        for i, c, neg in zip(active.tolist(), total[active].tolist(), negative[active].tolist(), strict=True):
            name = self.names[i]
            state = streams[name]
            step = BUCKET_SECONDS / c
            for j in range(c):
                t = start + j * step
                text = " ".join([vocab[w] for w in words[k]])
                author = f"{name}-u{authors[k]}"
                mid = f"{name}-{self.serial}"
                self.serial += 1
                post = Post(
                    followers[k] + 50.0 * reshares[k],
                    mid,
                    f"https://social.example/{mid}",
                    author,
                    followers[k],
                    reshares[k],
                    text,
                )
                polarity = -1 if j < neg else int(positive[k])
                weight = state.authors.weight(author, t)
                add(
                    name,
                    t=t,
                    polarity=polarity,
                    weight=weight,
                    author=author,
                    terms=tokenize(text),
                    post=post,
                )
                k += 1
        return n


class _Scorer:
    """Sentiment is never scored here: every mention carries its polarity."""

    def score(self, text: str) -> float:
        return 0.0


def new_pipeline(streams: int) -> Pipeline:
    config = RadarConfig.model_validate({"radar": {"max_streams": max(streams, 1)}})
    return Pipeline(config, _Scorer())


def create_streams(pipeline: Pipeline, names: Sequence[str], at: float) -> None:
    """Create the streams the way mentions do: one mention carrying ``stream`` each."""
    when = datetime.fromtimestamp(at, UTC)
    for name in names:
        record = {
            "id": f"{name}-hello",
            "created_at": when,
            "text": "hello radar",
            "stream": name,
            "sentiment": 0.0,
        }
        mention = Mention.model_validate(record)
        if pipeline.ingest(mention) != "accepted":
            raise RuntimeError(f"stream {name} was not created")


# -- measuring -----------------------------------------------------------------------------------------
class GcTimer:
    """Process time spent in garbage collections, and how many ran, per generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started
            self.collections[info["generation"]] += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def rss_bytes() -> int | None:
    """Resident set size of this process (Linux), after a full collection."""
    gc.collect()
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def traced_size(blob: bytes) -> int:
    """Bytes that the unpickled ``blob`` holds in memory (tracemalloc, Python and numpy allocations)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        obj = pickle.loads(blob)
        size = tracemalloc.get_traced_memory()[0] - before
        del obj
    finally:
        tracemalloc.stop()
    return size


def sizes(objects: object, count: int) -> dict[str, float]:
    """tracemalloc and pickled KB per item of ``objects`` (``count`` items)."""
    blob = pickle.dumps(objects, protocol=PICKLE_PROTOCOL)
    return {
        "kb": round(traced_size(blob) / count / 1024, 2),
        "pickled_kb": round(len(blob) / count / 1024, 2),
    }


STATE_PARTS: dict[str, Callable[[StreamState], object]] = {
    "detector": lambda s: s.detector,
    "detector.volume.baseline": lambda s: s.detector.volume.baseline,
    "detector.negative.baseline": lambda s: s.detector.negative.baseline,
    "recent": lambda s: s.recent,
    "authors": lambda s: s.authors,
    "terms": lambda s: s.terms,
    "last": lambda s: s.last,
}


def memory_per_stream(pipeline: Pipeline, names: Sequence[str], sample: int) -> dict[str, Any]:
    """tracemalloc and pickled sizes of the per-stream state (a sample of streams) and the shared parts."""
    chosen = [pipeline.streams[n] for n in names[:: max(1, len(names) // sample)][:sample]]
    k = len(chosen)
    state = sizes(chosen, k)
    parts = {part: sizes([get(s) for s in chosen], k) for part, get in STATE_PARTS.items()}
    streams = len(names)
    shared = {
        "windower": sizes(pipeline.windower, streams),
        "policy": sizes(pipeline.policy, streams),
        "registry": sizes(pipeline.registry, streams),
        "history": sizes(pipeline.history, streams),
        "recent_terms": sizes(RECENT_TERMS, streams),  # the term table the streams' recent activity shares
    }
    total_kb = state["kb"] + sum(x["kb"] for x in shared.values())
    pickled_kb = state["pickled_kb"] + sum(x["pickled_kb"] for x in shared.values())
    return {
        "sampled_streams": k,
        "tracemalloc_kb_per_stream": round(total_kb, 2),
        "pickled_kb_per_stream": round(pickled_kb, 2),
        "stream_state": state,
        "stream_state_parts": parts,
        "shared_per_stream": shared,
    }


def summary(per_tick: list[float]) -> dict[str, float]:
    """Median, p95, mean and max of per-stream µs over the ticks."""
    xs = sorted(per_tick)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return {
        "median": round(statistics.median(xs), 2),
        "p95": round(p95, 2),
        "mean": round(statistics.fmean(xs), 2),
        "max": round(xs[-1], 2),
    }


# -- the runs ------------------------------------------------------------------------------------------
def pretrained(load: Load, seed: int) -> tuple[list[bytes], list[bytes]]:
    """Detector and term-baseline pickles of one template stream per rate class, trained for two days
    through a pipeline on the same kind of data."""
    rng = np.random.default_rng(seed + 1)
    classes = np.arange(len(load.rates))
    names = [f"template-{c}" for c in classes]
    pipeline = new_pipeline(len(names))
    create_streams(pipeline, names, DAY0)
    feeder = Feeder(pipeline, names, rng)
    minutes = PRETRAIN_DAYS * DAY_MINUTES
    total, negative = counts(load, classes, 0, minutes, rng)
    for m in range(minutes):
        start = DAY0 + m * BUCKET_SECONDS
        feeder.feed(start, total[m], negative[m])
        pipeline.advance(start + BUCKET_SECONDS)
    states = [pipeline.streams[n] for n in names]
    if any(s.learning for s in states):
        raise RuntimeError("templates still learning after the pre-training")
    dump = pickle.dumps
    return [dump(s.detector, PICKLE_PROTOCOL) for s in states], [
        dump(s.terms, PICKLE_PROTOCOL) for s in states
    ]


def run_variant(v: Variant) -> dict[str, Any]:
    """Run one variant (in its own process) and return its figures."""
    garbage.tune(v.gc_young)
    load = LOADS[v.load]
    rng = np.random.default_rng(v.seed)
    classes = stream_classes(load, v.streams, rng)
    first = PRETRAIN_DAYS * DAY_MINUTES if v.phase == "trained" else 0
    total, negative = counts(load, classes, first, v.minutes, rng)
    surged = add_surges(total, negative, load, classes, v.surges, rng)
    detectors, terms = pretrained(load, v.seed) if v.phase == "trained" else ([], [])
    names = [f"s{i:05d}" for i in range(v.streams)]
    day_start = DAY0 + first * BUCKET_SECONDS
    out: dict[str, Any] = {
        **asdict(v),
        "mean_rate_per_minute": round(float(total.mean()), 3),
        "empty_bucket_share": round(float((total == 0).mean()), 4),
        "mentions": int(total.sum()),
        "surged_streams": surged,
    }
    started = time.perf_counter()
    rss0 = rss_bytes()
    if v.what == "pipeline":
        out.update(_time_pipeline(v, names, classes, total, negative, detectors, terms, day_start, rng, rss0))
    else:
        out.update(_time_detector(v, classes, total, negative, detectors, day_start, rss0))
    out["wall_seconds"] = round(time.perf_counter() - started, 1)
    return out


def rss_growth_kb(rss0: int | None, streams: int) -> float | None:
    """RSS growth since ``rss0`` per stream, KB (taken while the streams' state is alive)."""
    rss1 = rss_bytes()
    return None if rss0 is None or rss1 is None else round((rss1 - rss0) / streams / 1024, 2)


def by_hour(per_tick: list[float]) -> list[float]:
    """Median per-stream µs of each hour's ticks (the day has a rhythm: busy hours cost more)."""
    return [round(statistics.median(per_tick[h : h + 60]), 1) for h in range(0, len(per_tick), 60)]


def _time_pipeline(
    v: Variant,
    names: list[str],
    classes: np.ndarray,
    total: np.ndarray,
    negative: np.ndarray,
    detectors: list[bytes],
    terms: list[bytes],
    day_start: float,
    rng: np.random.Generator,
    rss0: int | None,
) -> dict[str, Any]:
    pipeline = new_pipeline(v.streams)
    create_streams(pipeline, names, day_start)
    if detectors:  # after warm-up: each stream starts from its class's trained template
        for name, c in zip(names, classes.tolist(), strict=True):
            state = pipeline.streams[name]
            state.detector = pickle.loads(detectors[c])
            state.terms = pickle.loads(terms[c])
    feeder = Feeder(pipeline, names, rng)
    ticks: list[float] = []
    gc_in_ticks: list[float] = []
    scrapes: list[float] = []
    incidents: dict[str, int] = {}
    streams = v.streams
    busy: dict[str, Any] | None = None
    with GcTimer() as gct:
        for m in range(v.minutes):
            if m == BUSY_MINUTE:  # between ticks, not timed
                rss_kb = rss_growth_kb(rss0, streams)
                busy = {
                    "at": "17:00",
                    **memory_per_stream(pipeline, names, v.sample),
                    "rss_kb_per_stream": rss_kb,
                }
            start = day_start + m * BUCKET_SECONDS
            feeder.feed(start, total[m], negative[m])
            gc_before = gct.seconds
            t0 = time.process_time()
            events = pipeline.advance(start + BUCKET_SECONDS)
            ticks.append((time.process_time() - t0) / streams * 1e6)
            gc_in_ticks.append((gct.seconds - gc_before) / streams * 1e6)
            for e in events:
                if e.type == "opened":
                    incidents[e.incident.kind] = incidents.get(e.incident.kind, 0) + 1
            if v.scrape_every and (m + 1) % v.scrape_every == 0:
                t0 = time.process_time()
                pipeline.metrics.exposition()
                scrapes.append((time.process_time() - t0) / streams * 1e6)
    closed = sum(1 for s in pipeline.streams.values() if s.last is not None)
    if closed != streams:
        raise RuntimeError(f"only {closed} of {streams} streams closed buckets")
    learning = sum(s.learning for s in pipeline.streams.values())
    rss_kb = rss_growth_kb(rss0, streams)  # before the measurements below make garbage of their own
    memory = memory_per_stream(pipeline, names, v.sample)
    memory["rss_kb_per_stream"] = rss_kb
    return {
        "cpu_us_per_stream_bucket": summary(ticks),
        "cpu_us_per_stream_bucket_by_hour": by_hour(ticks),
        "gc_us_per_stream_bucket_in_ticks": round(statistics.fmean(gc_in_ticks), 2),
        "gc_us_per_stream_bucket_whole_run": round(gct.seconds / (streams * v.minutes) * 1e6, 2),
        "gc_seconds_whole_run": round(gct.seconds, 2),
        "gc_collections": dict(zip(("gen0", "gen1", "gen2"), gct.collections, strict=True)),
        "scrape_us_per_stream": summary(scrapes) if scrapes else None,
        "streams_learning_at_end": learning,
        "incidents_opened": incidents,
        "memory": memory,
        "memory_busy_hours": busy,
    }


def _time_detector(
    v: Variant,
    classes: np.ndarray,
    total: np.ndarray,
    negative: np.ndarray,
    detectors: list[bytes],
    day_start: float,
    rss0: int | None,
) -> dict[str, Any]:
    if detectors:
        dets = [pickle.loads(detectors[c]) for c in classes.tolist()]
    else:  # a new stream's detector, exactly as the pipeline configures it
        probe = new_pipeline(1)
        create_streams(probe, ["probe"], day_start)
        blob = pickle.dumps(probe.streams["probe"].detector, PICKLE_PROTOCOL)
        dets = [pickle.loads(blob) for _ in range(v.streams)]
    ticks: list[float] = []
    with GcTimer() as gct:
        for m in range(v.minutes):
            t = day_start + m * BUCKET_SECONDS
            row, neg = total[m].tolist(), negative[m].tolist()
            t0 = time.process_time()
            for det, c, n in zip(dets, row, neg, strict=True):
                det.update({"t": t, "mentions": float(c), "negative": float(n)})
            ticks.append((time.process_time() - t0) / v.streams * 1e6)
    rss_kb = rss_growth_kb(rss0, v.streams)
    chosen: list[CrisisDetector] = dets[:: max(1, len(dets) // v.sample)][: v.sample]
    return {
        "cpu_us_per_stream_bucket": summary(ticks),
        "cpu_us_per_stream_bucket_by_hour": by_hour(ticks),
        "gc_seconds_whole_run": round(gct.seconds, 2),
        "streams_learning_at_end": sum(d.learning for d in dets),
        "memory": {"detector": sizes(chosen, len(chosen)), "rss_kb_per_stream": rss_kb},
    }


# -- the command ---------------------------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {platform.system()} "
        f"{platform.machine()}, {cpu}, {os.cpu_count()} cpus"
    )


def code_version() -> dict[str, Any]:
    """The commit of the code measured, and its files changed since (the detectors move fast)."""
    root = Path(sys.modules[CrisisDetector.__module__].__file__ or ".").resolve().parents[1]

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "radar", "detectors", "alerts", "bench/streams.py")
    return {"root": str(root), "commit": git("rev-parse", "--short", "HEAD"), "changed": changed.splitlines()}


def report_line(r: dict[str, Any]) -> str:
    cpu = r["cpu_us_per_stream_bucket"]
    mem = r["memory"]
    head = (
        f"{r['load']:>8} {r['phase']:>8} {r['what']:>8}: CPU/stream/bucket median {cpu['median']:6.2f} µs, "
    )
    head += f"p95 {cpu['p95']:6.2f}, mean {cpu['mean']:6.2f}"
    if r["what"] == "pipeline":
        head += (
            f" (GC {r['gc_us_per_stream_bucket_in_ticks']:.2f}); memory/stream: "
            f"RSS {mem['rss_kb_per_stream'] or float('nan'):.1f} KB, "
            f"tracemalloc {mem['tracemalloc_kb_per_stream']:.1f} KB, "
            f"pickled {mem['pickled_kb_per_stream']:.1f} KB"
        )
    else:
        d = mem["detector"]
        head += f"; detector {d['kb']:.1f} KB ({d['pickled_kb']:.1f} KB pickled), RSS "
        head += f"{mem['rss_kb_per_stream'] or float('nan'):.1f} KB"
    return head


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=10_000)
    ap.add_argument("--minutes", type=int, default=DAY_MINUTES, help="1-minute buckets to close (one day)")
    ap.add_argument(
        "--out", type=Path, default=None, help="default bench/results/streams.json (none in --quick)"
    )
    ap.add_argument("--quick", action="store_true", help="smoke test: 200 streams, 120 minutes")
    ap.add_argument("--loads", nargs="+", choices=sorted(LOADS), default=["seasonal", "sparse"])
    ap.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    ap.add_argument("--what", nargs="+", choices=("pipeline", "detector"), default=["pipeline", "detector"])
    ap.add_argument("--surges", type=float, default=0.01, help="share of streams given a one-hour crisis")
    ap.add_argument("--sample", type=int, default=200, help="streams measured with tracemalloc/pickle")
    ap.add_argument("--scrape-every", type=int, default=60, help="ticks between timed metrics scrapes")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument(
        "--gc-young",
        type=int,
        default=garbage.YOUNG_THRESHOLD,
        help="young-generation threshold of the garbage collector (the radar command sets "
        f"{garbage.YOUNG_THRESHOLD}; 700 is CPython's default)",
    )
    ap.add_argument("--in-process", action="store_true", help="no fresh process per variant (RSS mixes)")
    args = ap.parse_args(argv)
    if args.quick:
        args.streams, args.minutes, args.sample = 200, 120, 50
    if not 1 <= args.streams <= 100_000:
        ap.error("--streams: 1 .. 100000 (radar.max_streams)")
    if args.minutes < 1:
        ap.error("--minutes: at least 1")
    out = args.out if args.out or args.quick else Path(__file__).parent / "results" / "streams.json"
    variants = [
        Variant(
            load,
            phase,
            what,
            args.streams,
            args.minutes,
            args.surges,
            args.seed,
            args.sample,
            args.scrape_every,
            args.gc_young,
        )
        for load in args.loads
        for phase in args.phases
        for what in args.what
    ]
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    results: list[dict[str, Any]] = []
    doc = {
        "command": f"python bench/streams.py {argv_text}".strip(),
        "machine": machine(),
        "code": code_version(),
        "targets": {"cpu_us_per_stream_bucket": TARGET_CPU_US, "memory_kb_per_stream": TARGET_MEMORY_KB},
        "what_is_measured": (__doc__ or "").split("\n\n", 2)[2].strip(),
        "loads": {
            name: asdict(load) | {"mean_rate": round(load.mean_rate, 3)} for name, load in LOADS.items()
        },
        "results": results,
    }
    for v in variants:
        if args.in_process:
            results.append(run_variant(v))
        else:  # a fresh process per variant: the RSS growth is the variant's own
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                results.append(pool.submit(run_variant, v).result())
        print(report_line(results[-1]), flush=True)
        if out is not None:  # after every variant: a long run that stops keeps what it measured
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if out is not None:
        print(f"-> {out}")


if __name__ == "__main__":
    main()
