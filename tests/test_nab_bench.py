"""bench/nab.py: NAB result files from the radar's volume detector, strictly streaming."""

from __future__ import annotations

import csv
import importlib.util
import random
import sys
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from detectors.severity import PeakSeverity
from detectors.surge import SurgeDetector

ROOT = Path(__file__).resolve().parent.parent
ROWS = 400  # 33 h of 5-minute buckets: the radar's 24 h warm-up, then a surge


def _load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nab_bench", ROOT / "bench" / "nab.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["nab_bench"] = module
    spec.loader.exec_module(module)
    return module


nab = _load_runner()


def _write_series(path: Path, rows: int = ROWS) -> list[tuple[str, str]]:
    rng = random.Random(11)
    start = datetime(2015, 2, 26, 21, 42, 53, tzinfo=UTC)
    data = []
    for i in range(rows):
        stamp = (start + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S")
        count = 20 + rng.randint(-5, 5) + (8 if (i // 36) % 2 else 0)
        if 320 <= i < 330:
            count *= 12  # a surge after the warm-up
        data.append((stamp, str(count)))
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["timestamp", "value"])
        writer.writerows(data)
    return data


def _read_result(path: Path) -> list[tuple[str, str, float]]:
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == ["timestamp", "value", "anomaly_score"]
        return [(t, v, float(s)) for t, v, s in reader]


@pytest.mark.parametrize("score", sorted(nab.SCORES))
def test_one_row_per_input_row_with_scores_in_unit_interval(tmp_path: Path, score: str) -> None:
    data_dir, out_dir = tmp_path / "data", tmp_path / "out"
    data_dir.mkdir()
    data = _write_series(data_dir / "series.csv")
    nab.run(data_dir, out_dir, score=score)
    result = _read_result(out_dir / "series.csv")
    assert [(t, v) for t, v, _ in result] == data
    scores = [s for _, _, s in result]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert max(scores[:288]) == 0.0  # warm-up
    assert max(scores[320:330]) > 0.5  # the surge is scored
    assert scores[300] < max(scores[320:330])


@pytest.mark.parametrize("emit", nab.EMITS)
@pytest.mark.parametrize("score", sorted(nab.SCORES))
def test_truncating_the_input_leaves_earlier_scores_unchanged(tmp_path: Path, score: str, emit: str) -> None:
    full_dir, cut_dir = tmp_path / "full", tmp_path / "cut"
    full_dir.mkdir()
    cut_dir.mkdir()
    data = _write_series(full_dir / "series.csv")
    stamps, values = [t for t, _ in data], [v for _, v in data]
    full = nab.score_series(stamps, values, score=score, emit=emit)
    for k in (0, 150, 299, 322, ROWS - 2):
        (cut_dir / "series.csv").write_text(
            "timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in data[: k + 1])
        )
        nab.run(cut_dir, cut_dir / "out", score=score, emit=emit)
        cut = _read_result(cut_dir / "out" / "series.csv")
        assert len(cut) == k + 1
        assert [s for _, _, s in cut] == [s for _, _, s in full[: k + 1]]


def test_row_score_is_judged_before_the_row_is_learned(tmp_path: Path) -> None:
    data = _write_series(tmp_path / "series.csv")
    rows = nab.score_series([t for t, _ in data], [v for _, v in data], score="surge")
    detector = SurgeDetector(**nab.radar_params())
    for i, (stamp, value) in enumerate(data):
        x: dict[Hashable, Any] = {"t": nab.parse_time(stamp), "mentions": float(value)}
        assert rows[i][2] == detector.score_one(x)
        detector.learn_one(x)


def test_default_score_is_the_detector_layers_severity_of_each_reading(tmp_path: Path) -> None:
    data = _write_series(tmp_path / "series.csv")
    rows = nab.score_series(
        [t for t, _ in data], [v for _, v in data], {"trigger": 4.0, "severity.half_life": 3600.0}
    )
    detector = SurgeDetector(**{**nab.radar_params(), "trigger": 4.0})
    grader = PeakSeverity(half_life=3600.0)
    expected = []
    for t, v in data:
        reading = detector.update({"t": nab.parse_time(t), "mentions": float(v)})
        expected.append(grader.update(reading, detector.current_excesses()))
    assert [s for _, _, s in rows] == expected
    assert max(expected) == 1.0  # the series' first surge


def test_incidents_keep_only_the_rows_that_open_or_escalate_an_incident(tmp_path: Path) -> None:
    data = _write_series(tmp_path / "series.csv")
    stamps, values = [t for t, _ in data], [v for _, v in data]
    every = [s for _, _, s in nab.score_series(stamps, values)]
    announced = [s for _, _, s in nab.score_series(stamps, values, emit="incidents")]
    assert len(announced) == len(every)
    kept = [i for i, s in enumerate(announced) if s > 0]
    assert kept and kept[0] == next(i for i, s in enumerate(every) if s > 0)  # the incident opens
    assert all(announced[i] == every[i] for i in kept)  # a kept row keeps its score
    # within one incident (triggered readings less than the 60-min quiet period apart), a row is kept
    # only when it beats every earlier score of the incident: the surge is announced once, then escalations
    peak = 0.0
    for i in range(kept[0], 330):
        if announced[i] > 0:
            assert every[i] > peak
            peak = every[i]
        elif every[i] > 0:
            assert every[i] <= peak
    assert max(announced) == max(every)  # the surge's worst reading is announced
    assert sum(s > 0 for s in announced) < sum(s > 0 for s in every)


def test_an_incident_reopens_after_the_quiet_period() -> None:
    emit = nab.IncidentEmitter(quiet_seconds=3600.0)
    assert emit(0.0, True, 0.7) == 0.7
    assert emit(3600.0, True, 0.5) == 0.0  # still open: 60 min since the last triggered reading
    assert emit(7200.0, False, 0.0) == 0.0
    assert emit(7500.0, True, 0.5) == 0.5  # 65 min after: the incident resolved, this one is new
    assert emit(7800.0, True, 0.0) == 0.0  # a triggered reading without excess announces nothing


def test_nested_grid_is_every_combination() -> None:
    grid = [("trigger", (3.0, 5.0)), ("severity.half_life", (1, 2, 3))]
    configs = nab.grid_configs(grid)
    assert len(configs) == 6
    assert configs[0] == {"trigger": 3.0, "severity.half_life": 1}
    assert configs[-1] == {"trigger": 5.0, "severity.half_life": 3}


def test_scores_are_written_at_full_precision(tmp_path: Path) -> None:
    rows = [("2015-01-01 00:00:00", "3", 0.1 + 0.2), ("2015-01-01 00:05:00", "4", 1 / 3)]
    nab.write_result(tmp_path / "r.csv", rows)
    assert [s for _, _, s in _read_result(tmp_path / "r.csv")] == [0.1 + 0.2, 1 / 3]


def test_a_gap_is_fed_as_missing_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    fed: list[dict[Hashable, Any]] = []
    update = SurgeDetector.update

    def spy(self: SurgeDetector, x: Mapping[Hashable, Any]) -> object:
        fed.append(dict(x))
        return update(self, x)

    monkeypatch.setattr(SurgeDetector, "update", spy)
    stamps = ["2015-01-01 00:00:00", "2015-01-01 00:05:00", "2015-01-01 00:20:00"]
    rows = nab.score_series(stamps, ["20", "22", "90"])
    assert [r[:2] for r in rows] == list(zip(stamps, ["20", "22", "90"], strict=True))
    t0 = nab.parse_time(stamps[0])
    assert fed == [
        {"t": t0, "mentions": 20.0},
        {"t": t0 + 300, "mentions": 22.0},
        {"t": t0 + 600, "missing": True},
        {"t": t0 + 900, "missing": True},
        {"t": t0 + 1200, "mentions": 90.0},
    ]


def _nabscore() -> ModuleType:
    if not nab.DEFAULT_NABSCORE.exists():
        pytest.skip(f"no {nab.DEFAULT_NABSCORE}")
    return nab.load_nabscore(nab.DEFAULT_NABSCORE)


def _scored_files(ns: ModuleType, spikes: list[int], n: int = 2000) -> list[Any]:
    """Three files, one labelled window each around row 1000; a score of 1 at each of ``spikes``."""
    start = datetime(2015, 1, 1, tzinfo=UTC)
    stamps = [(start + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]
    scores = [1.0 if i in spikes else 0.0 for i in range(n)]
    return [ns.prepare_file(f"x/f{k}.csv", stamps, scores, [(stamps[950], stamps[1050])]) for k in range(3)]


def test_nested_loo_chooses_the_configuration_on_the_other_files() -> None:
    ns = _nabscore()
    good = _scored_files(ns, [960])  # fires early in every window
    noisy = _scored_files(ns, [960, 300, 400, 1500, 1600])  # the same, plus false positives
    result = nab.nested_loo(ns, [noisy, good], ["noisy", "good"])
    for name in nab.PROFILES:
        held = result[name]["nested_loo"]["per_file"]
        assert {h["config"] for h in held.values()} == {"good"}
        assert result[name]["in_sample"]["config"] == "good"
        assert result[name]["nested_loo"]["fp_rows"] == 0
        assert result[name]["nested_loo"]["windows_hit"] == 3
    # one configuration: nested LOO is the plain LOO
    plain = nab.evaluate_files(ns, noisy)
    alone = nab.nested_loo(ns, [noisy], ["noisy"])
    for name in nab.PROFILES:
        assert alone[name]["nested_loo"]["normalized"] == pytest.approx(plain[name]["loo"]["normalized"])
