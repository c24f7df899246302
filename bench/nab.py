"""NAB realTweets benchmark of the radar's volume detector (DESIGN §4).

    python bench/nab.py --data ../shared/data/nab_realtweets --out /tmp/nab-out
    python bench/nab.py --data ../shared/data/nab_realtweets --out /tmp/nab-out --evaluate
    python bench/nab.py --data ../shared/data/nab_realtweets --out /tmp/nab-out --evaluate --nested \
        --grid trigger=3.0,5.0,8.0 --grid severity.half_life=86400.0,172800.0,259200.0,432000.0

Reads every ``*.csv`` (``timestamp,value``) in ``--data`` and writes, for each, a NAB result
file ``timestamp,value,anomaly_score`` of the same name in ``--out``: one row per input row, the
input's timestamp and value as they were, and the score at full float precision (``repr``).

The detector is the radar's own: a :class:`detectors.surge.SurgeDetector` on the ``mentions``
signal, built with the arguments :class:`detectors.crisis.CrisisDetector` gives its volume
detector and the radar's default ``[detection]`` settings (warm-up 24 h, surprise 5, minimum
excess 5), with ``bucket_seconds=300`` (NAB rows are 5-minute counts). ``--param NAME=VALUE``
overrides a constructor argument. Scoring is strictly streaming, as the radar runs it: the score
of row i is the reading that ``update(row i)`` returns, judged on rows 0..i-1 and row i's own
count, before row i is learned. A gap of whole buckets between two rows is fed as ``missing``
buckets (neither learned nor scored), so the detector's windows stay aligned with time.

``--score`` maps each reading to ``anomaly_score`` in [0, 1]:

* ``severity`` (default): the detector layer's severity, :class:`detectors.severity.PeakSeverity`
  fed every reading with the detector's window excesses (``SurgeDetector.current_excesses()``
  after the update): 0 unless the reading triggered, else the mean over the windows of
  ``excess / (excess + reference)``, the reference being the stream's largest earlier triggered
  excess in that window, decayed with ``half_life``. ``--param severity.NAME=VALUE`` sets a
  ``PeakSeverity`` argument. Trigger on surprise, grade by the size of the excess.
* ``surge``: ``SurgeDetector.score_of(reading)``, the detector's own score (grows with the
  surprise, -log10 p, of the reported window; saturates, so a threshold cannot grade by it).
* ``magnitude``: defined here, not in the detector: 0 unless the reading triggered (surprise and
  minimum excess reached), else ``1 - 1/ratio`` with ``ratio`` the observed over expected count of
  the reported window (the triggered window with the largest ratio), the quantity the crisis
  detector grades severity by (trigger on surprise, grade by magnitude). A function of the
  reading alone: the radar could use it as it is.

``--emit`` says which rows carry their score:

* ``rows`` (default): every row, as NAB runs a detector: a surge that stays above the threshold for an
  hour is twelve detections, and outside a labelled window twelve false positives.
* ``incidents``: only the rows at which the radar would announce something, the rest score 0. A
  triggered reading opens an incident unless one is open; the incident stays open until the radar's
  quiet period (``[escalation] quiet_period_minutes``, 60 by default) passes without a triggered
  reading, as :class:`alerts.escalation.EscalationPolicy` resolves incidents. A row scores when it
  opens an incident, or when its score is above every score the open incident has had (the radar
  announces an escalation, not the same level again). Nothing here is chosen on NAB: the quiet period
  is the radar's default.

``--evaluate`` then scores the outputs with ``../shared/bench/nabscore.py`` for the three NAB
profiles, (a) with the threshold optimised on all the files (in-sample, as NAB reports) and
(b) leave-one-file-out: each file is scored at the threshold that maximises the summed raw
score of the other files; the LOO figure is the normalised score of the sum of the held-out
raw scores (NAB normalises a set of files the same way: sums of raw, null and perfect scores).
The numbers, the commands that made them and the code version are merged into
``bench/results/nab.json`` under ``--label``, and ``bench/results/nab.md`` is rewritten from it.

``--nested --grid NAME=V1,V2,...`` (repeatable) runs every combination of the grid values
(``--param`` names, into ``OUT/gNN/``) and reports **nested** leave-one-file-out: for each
held-out file, the configuration AND the threshold are chosen together on the other files, and
the held-out file is scored with them. Any parameter chosen by looking at NAB scores must be
reported this way; plain LOO is honest only for a configuration fixed in advance.
"""

from __future__ import annotations

import argparse
import ast
import csv
import datetime as dt
import hashlib
import importlib.util
import json
import math
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NABSCORE = ROOT.parent / "shared" / "bench" / "nabscore.py"
DEFAULT_RESULTS = ROOT / "bench" / "results" / "nab.json"
BUCKET_SECONDS = 300
MAX_GAP_BUCKETS = 7 * 86_400 // BUCKET_SECONDS  # longer gaps are not filled with missing buckets
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
#: Published scores on the same 5 realTweets files (DESIGN §4), for the report.
REFERENCES = {"ARTime": 82.8, "HTM": 63.5, "Twitter ADVec": 58.4}
LOO_AGGREGATION = (
    "leave-one-file-out: for each file, the threshold is the one nabscore's optimise() picks on the "
    "other files (maximum summed raw score, ties to the highest threshold); the file is scored at it; "
    "the LOO score is 100 * (S - S_null) / (S_perfect - S_null) with S the sum of the held-out raw "
    "scores and S_null, S_perfect summed over all files (NAB's normalisation of a set of files)"
)

Row = tuple[str, str, float]  # timestamp and value as read, anomaly score

if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


# -- the detector --------------------------------------------------------------------------------
def radar_params() -> dict[str, Any]:
    """The volume detector's arguments as the radar builds it (default ``[detection]`` settings)."""
    from radar.config import DetectionSettings

    settings = DetectionSettings()
    return {
        "bucket_seconds": BUCKET_SECONDS,
        "signal": "mentions",
        "warmup": settings.warmup_hours * 3600.0,
        "trigger": settings.surprise,
        "min_excess": settings.min_excess,
    }


Scorer = Callable[[Any, Any], float]  # (reading, detector after its update) -> anomaly_score, in order
SEVERITY_PREFIX = "severity."  # --param severity.NAME=VALUE goes to the severity grader


def score_severity(options: Mapping[str, Any]) -> Scorer:
    """``PeakSeverity(**options).update(reading, detector.current_excesses())``
    (``detectors.severity``): 0 unless the reading triggered, else the mean over the detector's
    windows of ``excess / (excess + reference)``, the reference being the window's largest earlier
    triggered excess, decayed with the half-life."""
    from detectors.severity import PeakSeverity

    grader = PeakSeverity(**options)
    return lambda reading, detector: grader.update(reading, detector.current_excesses())


def score_surge(options: Mapping[str, Any]) -> Scorer:
    """``SurgeDetector.score_of(reading)``: the detector's own score of the reading."""
    from detectors.surge import SurgeDetector

    _no_options("surge", options)
    return lambda reading, _detector: float(SurgeDetector.score_of(reading))


def score_magnitude(options: Mapping[str, Any]) -> Scorer:
    """0 unless the reading triggered, else ``1 - 1/ratio`` of the reported window."""
    _no_options("magnitude", options)

    def magnitude(reading: Any, _detector: Any) -> float:
        if reading.learning or reading.missing or not reading.triggered:
            return 0.0
        return 1.0 - 1.0 / max(float(reading.ratio), 1.0)

    return magnitude


def _no_options(score: str, options: Mapping[str, Any]) -> None:
    if options:
        raise SystemExit(f"--score {score} takes no {SEVERITY_PREFIX}* parameters (got {dict(options)})")


SCORES: dict[str, Callable[[Mapping[str, Any]], Scorer]] = {
    "severity": score_severity,
    "surge": score_surge,
    "magnitude": score_magnitude,
}


class IncidentEmitter:
    """Keeps a row's score only where the radar would announce something (``--emit incidents``): the
    reading that opens an incident (no triggered reading in the quiet period before it) and those
    whose score beats every earlier score of the open incident (an escalation); other rows score 0.

    >>> emit = IncidentEmitter(quiet_seconds=3600.0)
    >>> readings = [(0, True, 0.4), (1, True, 0.3), (2, True, 0.6), (3, False, 0.0)]
    >>> [emit(i * 300.0, triggered, s) for i, triggered, s in readings]
    [0.4, 0.0, 0.6, 0.0]
    >>> emit(20 * 300.0, True, 0.2)  # 85 min after the last triggered reading: a new incident
    0.2
    """

    def __init__(self, quiet_seconds: float) -> None:
        self.quiet_seconds = quiet_seconds
        self._last_trigger: float | None = None
        self._peak = 0.0

    def __call__(self, t: float, triggered: bool, score: float) -> float:
        """The score to write for a reading at ``t``: ``score`` if announced, else 0."""
        if not triggered:
            return 0.0
        if self._last_trigger is None or t - self._last_trigger > self.quiet_seconds:
            self._peak = 0.0  # the open incident (if any) resolved: this reading opens a new one
        self._last_trigger = t
        if score > self._peak:
            self._peak = score
            return score
        return 0.0


def radar_quiet_seconds() -> float:
    """The radar's default quiet period before an incident resolves (``[escalation]``)."""
    from radar.config import EscalationSettings

    return EscalationSettings().quiet_period_minutes * 60.0


EMITS = ("rows", "incidents")


def split_params(params: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``--param`` values split into the detector's arguments and the severity grader's."""
    detector, grader = {}, {}
    for name, value in (params or {}).items():
        if name.startswith(SEVERITY_PREFIX):
            grader[name.removeprefix(SEVERITY_PREFIX)] = value
        else:
            detector[name] = value
    return detector, grader


def parse_time(text: str) -> float:
    """Epoch seconds of a timestamp (ISO 8601; UTC when it has no offset)."""
    stamp = dt.datetime.fromisoformat(text.strip())
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def read_series(path: Path) -> tuple[list[str], list[str]]:
    """The ``timestamp`` and ``value`` columns of a NAB data file, as text."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"timestamp", "value"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: need columns timestamp,value (have {reader.fieldnames})")
        stamps: list[str] = []
        values: list[str] = []
        for row in reader:
            stamps.append(row["timestamp"])
            values.append(row["value"])
    return stamps, values


def score_series(
    stamps: Sequence[str],
    values: Sequence[str],
    params: Mapping[str, Any] | None = None,
    score: str = "severity",
    emit: str = "rows",
) -> list[Row]:
    """Stream the rows through a fresh detector; the score of row i only sees rows 0..i."""
    from detectors.surge import SurgeDetector

    own, options = split_params(params)
    kwargs = {**radar_params(), **own}
    detector = SurgeDetector(**kwargs)
    to_score = SCORES[score](options)
    if emit not in EMITS:
        raise ValueError(f"emit: {emit!r} is not one of {EMITS}")
    announce = IncidentEmitter(radar_quiet_seconds()) if emit == "incidents" else None
    bucket = float(kwargs["bucket_seconds"])
    signal = kwargs["signal"]
    out: list[Row] = []
    last: float | None = None
    for stamp, value in zip(stamps, values, strict=True):
        t = parse_time(stamp)
        if last is not None:
            gap = round((t - last) / bucket) - 1
            for k in range(1, min(gap, MAX_GAP_BUCKETS) + 1):
                detector.update({"t": last + k * bucket, "missing": True})
        reading = detector.update({"t": t, signal: float(value)})
        s = to_score(reading, detector)
        if announce is not None:
            s = announce(t, bool(reading.triggered and not reading.learning and not reading.missing), s)
        if not 0.0 <= s <= 1.0 or math.isnan(s):
            raise ValueError(f"score {s!r} of row {stamp} is outside [0, 1]")
        out.append((stamp, value, s))
        last = t
    return out


def write_result(path: Path, rows: Sequence[Row]) -> None:
    """A NAB result file: ``timestamp,value,anomaly_score`` with the score's repr."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for stamp, value, s in rows:
            writer.writerow([stamp, value, repr(s)])


def run(
    data: Path,
    out: Path,
    params: Mapping[str, Any] | None = None,
    score: str = "severity",
    emit: str = "rows",
) -> dict[str, Any]:
    """Score every ``*.csv`` of ``data`` into ``out``; returns rows and seconds per file."""
    files = sorted(p for p in data.glob("*.csv") if p.is_file())
    if not files:
        raise SystemExit(f"no *.csv in {data}")
    if out.resolve() == data.resolve():
        raise SystemExit("--out must differ from --data (the result files have the same names)")
    out.mkdir(parents=True, exist_ok=True)
    stats: dict[str, Any] = {}
    for path in files:
        stamps, values = read_series(path)
        started = time.perf_counter()
        rows = score_series(stamps, values, params, score, emit)
        seconds = time.perf_counter() - started
        write_result(out / path.name, rows)
        stats[path.name] = {"rows": len(rows), "seconds": round(seconds, 3)}
        print(f"{path.name}: {len(rows)} rows, {seconds:.2f} s", file=sys.stderr)
    return stats


# -- evaluation ----------------------------------------------------------------------------------
def load_nabscore(path: Path) -> ModuleType:
    """Import the shared NAB scorer from its file."""
    spec = importlib.util.spec_from_file_location("nabscore", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("nabscore", module)
    spec.loader.exec_module(module)
    return module


def _threshold(t: float) -> float | None:
    return None if math.isinf(t) else t  # None: never fire


def load_files(ns: ModuleType, out: Path, labels: Path, data: Path) -> list[Any]:
    """nabscore's per-file scoring data of the result files in ``out``."""
    label_map = ns.load_labels([str(labels)])
    return list(ns.load_detector(str(out), label_map, [str(data)]))


def evaluate(out: Path, labels: Path, data: Path, nabscore: Path) -> dict[str, Any]:
    """In-sample and leave-one-file-out NAB scores of the result files in ``out``."""
    ns = load_nabscore(nabscore)
    return evaluate_files(ns, load_files(ns, out, labels, data))


def evaluate_files(ns: ModuleType, files: list[Any]) -> dict[str, Any]:
    """In-sample and leave-one-file-out NAB scores of nabscore's loaded files."""
    n_windows = sum(len(f.windows) for f in files)
    n_scorable = sum(int(f.scorable.sum()) for f in files)
    result: dict[str, Any] = {}
    for name in PROFILES:
        prof = ns.PROFILES[name]
        threshold, _ = ns.optimise(files, prof)
        total, per = ns.score_set(files, prof, threshold)
        in_sample = {
            "threshold": _threshold(threshold),
            "raw": total["raw"],
            "normalized": total["normalized"],
            "windows_hit": total["windows_hit"],
            "n_windows": total["n_windows"],
            "fp_rows": total["fp_rows"],
            "per_file": {k: {"raw": v["raw"], "windows_hit": v["windows_hit"]} for k, v in per.items()},
        }
        held: dict[str, Any] = {}
        raw_sum = 0.0
        for i, f in enumerate(files):
            t, train_raw = ns.optimise(files[:i] + files[i + 1 :], prof)
            r = ns.score_file(f, prof, t)
            raw_sum += r["raw"]
            held[f.key] = _held_out(r, t, train_raw, normalized=r["normalized"])
        loo = _pooled(ns.normalise(raw_sum, n_windows, n_scorable, prof), raw_sum, n_windows, held)
        result[name] = {"in_sample": in_sample, "loo": loo}
    return result


def _held_out(r: dict[str, Any], threshold: float, train_raw: float, **extra: Any) -> dict[str, Any]:
    """One held-out file's row: the threshold chosen on the other files and how it scored there."""
    return {
        **{k: v for k, v in extra.items() if k == "config"},
        "threshold": _threshold(threshold),
        "train_raw": train_raw,
        "raw": r["raw"],
        **{k: v for k, v in extra.items() if k != "config"},
        "windows_hit": r["windows_hit"],
        "n_windows": r["n_windows"],
        "fp_rows": r["fp_rows"],
    }


def _pooled(normalized: float, raw_sum: float, n_windows: int, held: dict[str, Any]) -> dict[str, Any]:
    """The held-out files pooled: NAB's normalisation of their summed raw scores, and their rows."""
    return {
        "normalized": normalized,
        "raw_sum": raw_sum,
        "windows_hit": sum(h["windows_hit"] for h in held.values()),
        "n_windows": n_windows,
        "fp_rows": sum(h["fp_rows"] for h in held.values()),
        "per_file": held,
    }


def nested_loo(ns: ModuleType, filesets: Sequence[list[Any]], labels: Sequence[str]) -> dict[str, Any]:
    """Nested leave-one-file-out over a grid of configurations, per profile.

    ``filesets[c]`` are the loaded result files of configuration ``c`` (same files, same order).
    For each held-out file, the configuration AND the threshold are the pair with the largest
    summed raw score on the other files (ties to the earlier configuration, then to the higher
    threshold, as nabscore's optimise); the held-out file is scored with them. The figure is
    NAB's normalisation of the sum of the held-out raw scores. In-sample: the pair chosen on all
    the files, scored on all the files.
    """
    first = filesets[0]
    n_windows = sum(len(f.windows) for f in first)
    n_scorable = sum(int(f.scorable.sum()) for f in first)
    result: dict[str, Any] = {}
    for name in PROFILES:
        prof = ns.PROFILES[name]
        best_c, best_t, best_raw = 0, math.inf, -math.inf
        for c, files in enumerate(filesets):
            t, raw = ns.optimise(files, prof)
            if raw > best_raw + 1e-12:
                best_c, best_t, best_raw = c, t, raw
        total, _ = ns.score_set(filesets[best_c], prof, best_t)
        in_sample = {
            "config": labels[best_c],
            "threshold": _threshold(best_t),
            "raw": total["raw"],
            "normalized": total["normalized"],
            "windows_hit": total["windows_hit"],
            "n_windows": total["n_windows"],
            "fp_rows": total["fp_rows"],
        }
        held: dict[str, Any] = {}
        raw_sum = 0.0
        for i, f in enumerate(first):
            pick_c, pick_t, pick_raw = 0, math.inf, -math.inf
            for c, files in enumerate(filesets):
                t, raw = ns.optimise(files[:i] + files[i + 1 :], prof)
                if raw > pick_raw + 1e-12:
                    pick_c, pick_t, pick_raw = c, t, raw
            r = ns.score_file(filesets[pick_c][i], prof, pick_t)
            raw_sum += r["raw"]
            held[f.key] = _held_out(r, pick_t, pick_raw, config=labels[pick_c])
        nested = _pooled(ns.normalise(raw_sum, n_windows, n_scorable, prof), raw_sum, n_windows, held)
        result[name] = {"in_sample": in_sample, "nested_loo": nested}
    return result


def grid_configs(grid: Sequence[tuple[str, tuple[Any, ...]]]) -> list[dict[str, Any]]:
    """Every combination of the ``--grid`` values, in order (the first name varies slowest)."""
    configs: list[dict[str, Any]] = [{}]
    for name, values in grid:
        configs = [{**c, name: v} for c in configs for v in values]
    return configs


def _config_label(config: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items()) or "(base)"


def _interpreter() -> str:
    """The Python running this, relative to the project when it is the project's venv."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(ROOT))
    except ValueError:
        return "python"


def _code_version(detectors_path: Path | None) -> dict[str, Any]:
    """Git HEAD, whether detectors/ differs from it, and a hash of the detector sources used."""
    folder = (detectors_path or ROOT) / "detectors"
    digest = hashlib.sha256()
    for source in sorted(folder.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    info: dict[str, Any] = {"detectors": str(folder), "detectors_sha256": digest.hexdigest()}
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "detectors"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        info["git_head"] = head.stdout.strip()
        info["detectors_uncommitted_changes"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    return info


def _fmt_threshold(x: float | None) -> str:
    return "never" if x is None else f"{x:.10g}"


def _short(key: str) -> str:
    """``realTweets/Twitter_volume_AAPL.csv`` -> ``AAPL``."""
    return key.rsplit("_", 1)[-1].removesuffix(".csv")


def write_markdown(path: Path, results: Mapping[str, Any]) -> None:
    """A short table per run of ``results`` (the content of nab.json)."""
    refs = ", ".join(f"{k} {v}" for k, v in REFERENCES.items())
    runs = results.get("runs", {})
    first = next(iter(runs.values()), None)
    n_windows: Any = "?"
    if first:
        n_windows = first.get("profiles", first.get("nested", {}))["standard"]["in_sample"]["n_windows"]
    lines = [
        f"# NAB realTweets (5 visible files, {n_windows} labelled windows)",
        "",
        f"Generated by `bench/nab.py --evaluate` from `nab.json` (commands there). Published: {refs}.",
        "In-sample: one threshold optimised on all 5 files (NAB's way). LOO: each file scored at the",
        "threshold optimised on the other 4; normalised from the sum of the 5 held-out raw scores.",
        "",
    ]
    for label, run_ in runs.items():
        if "nested" in run_:
            lines += _nested_markdown(label, run_)
            continue
        det = run_["detector"]
        params, options = _param_text(det["params"])
        lines += [
            f"## {label}",
            "",
            *([run_["note"], ""] if run_.get("note") else []),
            f"`{det['class']}({params})`, score `{det['score']}`{options}: {det['score_definition']}"
            + _emit_text(det),
            "",
            f"Command: `{run_['commands'][0]}`",
            "",
            "| profile | in-sample | threshold | hit | FP rows | LOO | LOO threshold per held-out file |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for name in PROFILES:
            p = run_["profiles"][name]
            ins, loo = p["in_sample"], p["loo"]
            thr = ", ".join(
                f"{_short(k)}: {_fmt_threshold(h['threshold'])}" for k, h in loo["per_file"].items()
            )
            hit = f"{ins['windows_hit']}/{ins['n_windows']}"
            lines.append(
                f"| {name} | {ins['normalized']:.2f} | {_fmt_threshold(ins['threshold'])} | {hit} | "
                f"{ins['fp_rows']} | {loo['normalized']:.2f} | {thr} |"
            )
        rt = run_["runtime"]
        lines += [
            "",
            f"{rt['rows']} rows scored in {rt['detect_seconds']:.2f} s "
            f"({rt['us_per_row']:.1f} µs/row); evaluation {rt['evaluate_seconds']:.2f} s.",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _emit_text(det: Mapping[str, Any]) -> str:
    """How the rows were emitted, for the markdown (nothing for the default, every row)."""
    if det.get("emit", "rows") == "rows":
        return ""
    return f" Emitted: `--emit {det['emit']}`: {det.get('emit_definition', '')}"


def _param_text(params: Mapping[str, Any]) -> tuple[str, str]:
    """The detector's arguments, and the severity grader's as `` (NAME=VALUE, ...)`` (or "")."""
    own, grader = split_params(params)
    options = ", ".join(f"{k}={v}" for k, v in grader.items())
    return ", ".join(f"{k}={v}" for k, v in own.items()), f" ({options})" if options else ""


def _nested_markdown(label: str, run_: Mapping[str, Any]) -> list[str]:
    det = run_["detector"]
    params, options = _param_text(det["params"])
    grid = run_["grid"]
    lines = [
        f"## {label}",
        "",
        *([run_["note"], ""] if run_.get("note") else []),
        f"`{det['class']}({params})`, score `{det['score']}`{options}: {det['score_definition']}"
        + _emit_text(det),
        "",
        f"**Nested leave-one-file-out** over {len(grid['configs'])} configurations "
        f"(grid: {'; '.join(f'{k} in {list(v)}' for k, v in grid['values'].items())}): for each held-out",
        "file the configuration and the threshold are chosen together on the other 4 files; the held-out",
        "file is scored with them. In-sample: the configuration and threshold chosen on all 5 files.",
        "",
        f"Command: `{run_['commands'][0]}`",
        "",
        "| profile | in-sample | config (in-sample) | hit | FP rows | **nested LOO** | hit | "
        "config; threshold per held-out file |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for name in PROFILES:
        p = run_["nested"][name]
        ins, nes = p["in_sample"], p["nested_loo"]
        picks = "; ".join(
            f"{_short(k)}: {h['config']} @ {_fmt_threshold(h['threshold'])}"
            for k, h in nes["per_file"].items()
        )
        lines.append(
            f"| {name} | {ins['normalized']:.2f} | {ins['config']} @ {_fmt_threshold(ins['threshold'])} | "
            f"{ins['windows_hit']}/{ins['n_windows']} | {ins['fp_rows']} | **{nes['normalized']:.2f}** | "
            f"{nes['windows_hit']}/{nes['n_windows']} | {picks} |"
        )
    lines += [
        "",
        "Every configuration of the grid on its own (plain in-sample and LOO threshold; these pick",
        "nothing but the threshold, so a row's LOO is honest only for a configuration fixed in advance):",
        "",
        "| configuration | " + " | ".join(f"{n} in-sample | {n} LOO" for n in PROFILES) + " |",
        "|---|" + "---:|" * (2 * len(PROFILES)),
    ]
    for cfg in grid["configs"]:
        prof = cfg["profiles"]
        cells = " | ".join(
            f"{prof[n]['in_sample']['normalized']:.2f} | {prof[n]['loo']['normalized']:.2f}" for n in PROFILES
        )
        lines.append(f"| {cfg['label']} | {cells} |")
    rt = run_["runtime"]
    lines += [
        "",
        f"{rt['rows']} rows per configuration scored in {rt['detect_seconds']:.2f} s in all "
        f"({rt['us_per_row']:.1f} µs/row); evaluation {rt['evaluate_seconds']:.2f} s.",
        "",
    ]
    return lines


# -- command line --------------------------------------------------------------------------------
def _parse_param(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--param needs NAME=VALUE, got {text!r}")
    try:
        parsed = ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        parsed = value.strip()
    return name.strip(), parsed


def _parse_grid(text: str) -> tuple[str, tuple[Any, ...]]:
    name, values = _parse_param(text)
    if not isinstance(values, tuple):
        values = (values,)
    return name, values


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, required=True, help="folder of NAB data CSVs (timestamp,value)")
    ap.add_argument("--out", type=Path, required=True, help="folder for the result CSVs")
    ap.add_argument("--score", choices=sorted(SCORES), default="severity", help="reading -> anomaly_score")
    ap.add_argument(
        "--emit",
        choices=EMITS,
        default="rows",
        help="rows: every row carries its score; incidents: only the rows at which the radar would "
        "announce an incident or its escalation (60-min quiet period), the rest score 0",
    )
    ap.add_argument(
        "--param",
        type=_parse_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="SurgeDetector argument overriding the radar's (repeatable; Python literal); "
        "severity.NAME=VALUE: an argument of the severity grader (--score severity)",
    )
    ap.add_argument(
        "--nested",
        action="store_true",
        help="with --evaluate: nested leave-one-file-out over the --grid configurations "
        "(configuration and threshold chosen together on the other files); results in OUT/gNN/",
    )
    ap.add_argument(
        "--grid",
        type=_parse_grid,
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="values a --param takes in the --nested grid (repeatable: every combination is run)",
    )
    ap.add_argument(
        "--detectors-path",
        type=Path,
        help="import the detectors package from this folder instead (a scratch copy being measured)",
    )
    ap.add_argument("--evaluate", action="store_true", help="score the outputs with nabscore (3 profiles)")
    ap.add_argument("--labels", type=Path, help="NAB windows JSON (default: DATA/labels_visible.json)")
    ap.add_argument("--nabscore", type=Path, default=DEFAULT_NABSCORE, help="path of nabscore.py")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="JSON merged into (and .md)")
    ap.add_argument("--label", help="name of this run in the results (default: the --score name)")
    ap.add_argument("--note", help="a remark stored with the run and shown under its heading")
    a = ap.parse_args(args_list)

    if a.detectors_path is not None:
        sys.path.insert(0, str(a.detectors_path.resolve()))
    params = dict(a.param)
    if a.grid and not a.nested:
        ap.error("--grid needs --nested")
    if a.nested:
        if not a.evaluate:
            ap.error("--nested needs --evaluate")
        return _main_nested(a, args_list, params)
    started = time.perf_counter()
    stats = run(a.data, a.out, params, a.score, a.emit)
    detect_seconds = time.perf_counter() - started
    if not a.evaluate:
        return 0

    started = time.perf_counter()
    labels = a.labels or a.data / "labels_visible.json"
    profiles = evaluate(a.out, labels, a.data, a.nabscore)
    evaluate_seconds = time.perf_counter() - started
    rows = sum(s["rows"] for s in stats.values())

    run_record = {
        "commands": [shlex.join([_interpreter(), "bench/nab.py", *args_list])],
        "detector": _detector_record(a, params),
        "code": _code_version(a.detectors_path.resolve() if a.detectors_path else None),
        "runtime": {
            "rows": rows,
            "detect_seconds": round(detect_seconds, 3),
            "us_per_row": round(1e6 * detect_seconds / max(rows, 1), 2),
            "evaluate_seconds": round(evaluate_seconds, 3),
            "files": stats,
        },
        "profiles": profiles,
    }
    _save(a, run_record)
    for name in PROFILES:
        p = profiles[name]
        thr = {_short(k): v["threshold"] for k, v in p["loo"]["per_file"].items()}
        print(
            f"{name:<20} in-sample {p['in_sample']['normalized']:7.2f} "
            f"(threshold {p['in_sample']['threshold']})  LOO {p['loo']['normalized']:7.2f}  {thr}"
        )
    print(f"results: {a.results} and {a.results.with_suffix('.md')}")
    return 0


def _detector_record(a: argparse.Namespace, params: dict[str, Any]) -> dict[str, Any]:
    """What scored the rows: the detector class, its parameters and the score's definition."""
    import detectors.surge

    return {
        "class": "detectors.surge.SurgeDetector",
        "module": detectors.surge.__file__,
        "params": {**radar_params(), **params},
        "score": a.score,
        "score_definition": " ".join((SCORES[a.score].__doc__ or "").split()),
        "emit": a.emit,
        **(
            {"emit_definition": " ".join((IncidentEmitter.__doc__ or "").split("\n\n")[0].split())}
            if a.emit == "incidents"
            else {}
        ),
        **({"quiet_seconds": radar_quiet_seconds()} if a.emit == "incidents" else {}),
        "streaming": "score of row i = SurgeDetector.update(row i) reading (judged before learning)",
    }


def _main_nested(a: argparse.Namespace, args_list: list[str], params: dict[str, Any]) -> int:
    """Run every --grid configuration, evaluate each, then the nested leave-one-file-out."""

    ns = load_nabscore(a.nabscore)
    labels_path = a.labels or a.data / "labels_visible.json"
    configs = grid_configs(a.grid)
    filesets, summaries = [], []
    rows, detect_seconds, evaluate_seconds = 0, 0.0, 0.0
    for k, config in enumerate(configs):
        label = _config_label(config)
        print(f"[{k + 1}/{len(configs)}] {label}", file=sys.stderr)
        started = time.perf_counter()
        stats = run(a.data, a.out / f"g{k:02d}", {**params, **config}, a.score, a.emit)
        detect_seconds += time.perf_counter() - started
        rows = sum(s["rows"] for s in stats.values())
        started = time.perf_counter()
        files = load_files(ns, a.out / f"g{k:02d}", labels_path, a.data)
        profiles = evaluate_files(ns, files)
        evaluate_seconds += time.perf_counter() - started
        filesets.append(files)
        summaries.append({"label": label, "params": config, "profiles": profiles})
        p = profiles["standard"]
        print(
            f"    standard in-sample {p['in_sample']['normalized']:.2f}  LOO {p['loo']['normalized']:.2f}",
            file=sys.stderr,
        )
    started = time.perf_counter()
    nested = nested_loo(ns, filesets, [s["label"] for s in summaries])
    evaluate_seconds += time.perf_counter() - started
    run_record = {
        "commands": [shlex.join([_interpreter(), "bench/nab.py", *args_list])],
        "detector": _detector_record(a, params),
        "grid": {"values": {k: list(v) for k, v in a.grid}, "configs": summaries},
        "nested": nested,
        "code": _code_version(a.detectors_path.resolve() if a.detectors_path else None),
        "runtime": {
            "rows": rows,
            "detect_seconds": round(detect_seconds, 3),
            "us_per_row": round(1e6 * detect_seconds / max(rows * len(configs), 1), 2),
            "evaluate_seconds": round(evaluate_seconds, 3),
        },
    }
    _save(a, run_record)
    for name in PROFILES:
        p = nested[name]
        picks = {_short(k): (v["config"], v["threshold"]) for k, v in p["nested_loo"]["per_file"].items()}
        print(
            f"{name:<20} in-sample {p['in_sample']['normalized']:7.2f} ({p['in_sample']['config']})  "
            f"nested LOO {p['nested_loo']['normalized']:7.2f}  {picks}"
        )
    print(f"results: {a.results} and {a.results.with_suffix('.md')}")
    return 0


def _save(a: argparse.Namespace, run_record: dict[str, Any]) -> None:
    """Merge ``run_record`` into the results JSON under its label and rewrite the markdown."""
    label = a.label or (f"{a.score}-nested" if a.nested else a.score)
    if a.note:
        run_record["note"] = a.note
    results: dict[str, Any] = {}
    if a.results.exists():
        results = json.loads(a.results.read_text(encoding="utf-8"))
    results["benchmark"] = "NAB realTweets, 5 visible files, labels_visible.json, nabscore.py (3 profiles)"
    results["loo_aggregation"] = LOO_AGGREGATION
    results["references"] = REFERENCES
    results.setdefault("runs", {})[label] = run_record
    a.results.parent.mkdir(parents=True, exist_ok=True)
    a.results.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    write_markdown(a.results.with_suffix(".md"), results)


if __name__ == "__main__":
    raise SystemExit(main())
