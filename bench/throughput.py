"""End-to-end backtest throughput beside VADER alone, measured in the same run.

    python bench/throughput.py [--days 7] [--seed 7] [--repeat 3] [--volumes 1 10]

For each volume multiplier, generates a scenario (mentions JSONL in a temporary directory; ``1`` is
the default scenario, 0.4-5.5 mentions a minute per stream; ``10`` brands ten times as talked
about), then alternates, ``--repeat`` times:
(a) VADER alone on every text of the file (read and decoded, as the backtest must too), and
(b) the whole ``radar backtest`` path: read, validate, match, score with VADER, window, detect,
escalate, in one process (``--workers 0``), and
(c) the same with sentiment scored in worker processes beside the pipeline (``radar backtest``'s
default on a machine with more than one CPU: CPUs - 1 workers, at most 4).
Reports mentions/s medians and their ratios to (a) (target: pipeline >= 0.6x VADER-only).
The garbage collector is set as the ``radar`` command sets it (:func:`radar.garbage.tune`);
``--gc-young 700`` measures CPython's default instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from radar import garbage
from radar.backtest import run_backtest
from radar.cli import config_from_rules
from radar.scenario import default_scenario, stream_rules, write_scenario
from radar.scorepool import default_workers
from radar.sentiment import VaderScorer
from radar.sources.files import read_mentions


def vader_only(path: Path, scorer: VaderScorer) -> tuple[int, float]:
    started = time.perf_counter()
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            scorer.score(json.loads(line)["text"])
            n += 1
    return n, time.perf_counter() - started


def pipeline(
    path: Path, rules: dict[str, dict[str, list[str]]], scorer: VaderScorer, workers: int
) -> tuple[int, float, int]:
    config = config_from_rules(rules)
    started = time.perf_counter()
    result = run_backtest(read_mentions(path), config, scorer, workers=workers)
    elapsed = time.perf_counter() - started
    return sum(result.outcomes.values()), elapsed, len(result.pipeline.all_incidents())


def workload(
    days: int, seed: int, volume: float, repeat: int, scorer: VaderScorer, workers: int
) -> dict[str, object]:
    scenario = default_scenario(seed=seed, days=days, volume=volume)
    rules = stream_rules(scenario)
    vader_rates: list[float] = []
    pipe_rates: list[float] = []
    pool_rates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mentions.jsonl"
        total = write_scenario(scenario, path, None)
        for i in range(repeat):
            n, s = vader_only(path, scorer)
            vader_rates.append(n / s)
            m, p, incidents = pipeline(path, rules, scorer, 0)
            pipe_rates.append(m / p)
            m, q, _ = pipeline(path, rules, scorer, workers)
            pool_rates.append(m / q)
            print(
                f"volume x{volume:g} run {i + 1}: VADER alone {n / s:,.0f}/s, "
                f"pipeline {m / p:,.0f}/s in one process, {m / q:,.0f}/s with {workers} scoring "
                f"worker(s) ({incidents} incidents)",
                flush=True,
            )
    v, p, q = (statistics.median(x) for x in (vader_rates, pipe_rates, pool_rates))
    print(
        f"volume x{volume:g} median: VADER alone {v:,.0f}/s; pipeline {p:,.0f}/s (ratio {p / v:.2f}) "
        f"in one process, {q:,.0f}/s (ratio {q / v:.2f}) with {workers} scoring worker(s)"
    )
    return {
        "volume": volume,
        "mentions": total,
        "mentions_per_stream_minute": round(total / (len(scenario.streams) * days * 1440), 1),
        "vader_only_mentions_per_second": {"median": round(v), "runs": [round(x) for x in vader_rates]},
        "pipeline_one_process_mentions_per_second": {
            "median": round(p),
            "runs": [round(x) for x in pipe_rates],
        },
        "pipeline_with_workers_mentions_per_second": {
            "workers": workers,
            "median": round(q),
            "runs": [round(x) for x in pool_rates],
        },
        "ratio_one_process": round(p / v, 3),
        "ratio_with_workers": round(q / v, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--volumes", type=float, nargs="+", default=[1.0, 10.0], help="stream volume multipliers")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "throughput.json")
    ap.add_argument("--workers", type=int, default=max(1, default_workers()), help="scoring workers for (c)")
    ap.add_argument(
        "--gc-young",
        type=int,
        default=garbage.YOUNG_THRESHOLD,
        help="young-generation threshold of the garbage collector (700: CPython's default)",
    )
    args = ap.parse_args()
    garbage.tune(args.gc_young)
    scorer = VaderScorer()
    results = [workload(args.days, args.seed, v, args.repeat, scorer, args.workers) for v in args.volumes]
    volumes = " ".join(f"{v:g}" for v in args.volumes)
    doc = {
        "command": f"python bench/throughput.py --days {args.days} --seed {args.seed} --repeat {args.repeat} "
        f"--volumes {volumes} --workers {args.workers} --gc-young {args.gc_young}",
        "machine": f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cpus",
        "target_ratio": 0.6,
        "workloads": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
