"""Scenario-suite benchmark: detection quality of the radar on the project's generated scenarios.

    python bench/scenarios.py --seeds 1-10 [--days 21] [--workers N] [--out bench/results/scenarios.json]
    python bench/scenarios.py --tune 1-5 --report 6-15     # a tuning set and a held-out report set
    python bench/scenarios.py --seeds 1-10 --split         # the same, --seeds cut into two halves

For each seed: :func:`radar.scenario.default_scenario` (mentions JSONL, truth and a radar
configuration exactly as ``radar generate --seed N --truth ... --config-out ...`` writes them), then
the backtest through the real pipeline with VADER (:func:`radar.backtest.run_backtest`, what
``radar backtest`` runs), then :func:`score` of its output against the truth. Seeds run in parallel
processes (``--workers``). Writes the JSON document (``--out``: the command, the commit, per-seed
per-event rows, per-seed false alerts and noise, the per-kind summary of each set) and a markdown
table per set beside it (same name, ``.md``) with pass/fail against the targets.

Definitions (chosen before looking at any result; nothing here is tuned to the detectors):

* Levels are ``calm < watch < warning < crisis``. An incident's **warning time** is the first of its
  level changes at warning or above (none if it never got there). A **page** is an incident with a
  warning time (any kind; today only ``crisis`` incidents go above watch).
* The **window** of a truth event is ``[start - 15 min, end + 2 h]`` on the event's stream: 15
  minutes for a start on a 5-minute grid and a bucket still closing, 2 hours for a decay tail, the
  backlog an outage releases at its end, and a warning that comes late.
* An incident **covers an event at warning** when it is on the event's stream and its warning time
  falls in the event's window. It **covers** the event (the non-warning checks: reached level,
  watch-only noise) when its opening time or its warning time falls in the window.
* Each event's **expectation** is read from the truth flags: ``must_alert`` -> must alert,
  ``quiet`` -> no warning allowed, neither -> tolerated (the first two occurrences of a scheduled
  spike: the generator sets ``quiet`` only from the third; a warning on them is reported, it is
  neither a failure nor a false alert).
* An event's **reached level** is the highest level of the incidents covering it: an incident that
  covers it at warning contributes its peak level, one that only covers it by its opening time
  contributes ``watch``. ``calm`` when nothing covers it. It **reached warning** when an incident
  covers it at warning; its **delay** is the earliest such warning time minus the event's start, in
  minutes (negative when the warning came before the truth's onset, within the 15-minute slack).
  Median and max delays are over the events that reached warning; misses count against "every
  must-alert event reaches warning", not in the delays.
* A **false alert** is a page whose warning time is after its stream's learning period and that
  covers no truth event at warning (whatever the event's expectation). One per incident, however
  often it re-escalates. A warning that covers a quiet event counts as a warning on that event,
  not as a false alert.
* **Watch-only noise**: ``crisis`` incidents that never reach warning, opened after the learning
  period and covering no event; ``buzz`` and ``source_silent`` incidents (which never page) that
  cover no event are reported beside them.
* The **learning period** of a stream runs from the scenario's start for its
  ``detection.warmup_hours`` as the configuration the backtest ran with says
  (``RadarConfig.detection_for(stream)``; the stream's first mention comes within minutes of the
  start). Events starting in it are not scored (the default scenario has none: no event before
  day 3).
* **Calm time** of a stream: from the end of its learning period to the scenario's end, minus the
  union of its event windows. False alerts and noise are rates per calm stream-week (7 days of one
  stream's calm time).

Targets (the issue's): every must-alert event reaches warning; median delay <= 10 min for
``sudden_crisis`` and <= 2 h for ``slow_burn`` (the issue sets none for ``low_volume_crisis`` and
``sentiment_flip``: reported, not judged); no warning on a quiet event (buzz, spam, outage, blip,
scheduled spikes marked quiet); at most 0.2 false alerts per calm stream-week.

Also reported, not judged: for the events that reached warning, the median minutes from the event's
end to the last time its warning incidents stopped paging (dropped below warning), and to their
resolution (an incident still open when the scenario ends is counted apart).

Scoring is the pure function :func:`score` of (truth dict, backtest output dict, warmup);
:func:`summarize` pools the scores of a set of seeds; :func:`markdown` renders a set's table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import radar
from radar.backtest import run_backtest
from radar.cli import config_toml
from radar.config import load_config
from radar.scenario import EVENT_KINDS, default_scenario, stream_rules, write_scenario
from radar.sentiment import VaderScorer
from radar.sources.files import read_mentions

LEVELS = ("calm", "watch", "warning", "crisis")
WARNING = LEVELS.index("warning")
BEFORE = timedelta(minutes=15)
AFTER = timedelta(hours=2)
WEEK = timedelta(days=7)
#: median delay targets from onset to the first warning, minutes, per must-alert kind
DELAY_TARGETS_MIN = {"sudden_crisis": 10.0, "slow_burn": 120.0}
FALSE_ALERTS_PER_STREAM_WEEK = 0.2
EXPECTATIONS = ("must_alert", "tolerated", "quiet")
ROOT = Path(__file__).resolve().parent.parent
#: the checkout the radar code was imported from (its commit is recorded with the results)
SOURCE = Path(radar.__file__).resolve().parent.parent


# -- scoring (pure) ---------------------------------------------------------------------------------
def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _rank(level: str) -> int:
    return LEVELS.index(level)


def warning_time(incident: Mapping[str, Any]) -> datetime | None:
    """The first time ``incident`` was at warning or above, or None."""
    for change in incident["levels"]:
        if _rank(change["level"]) >= WARNING:
            return _ts(change["at"])
    return None


def paging_end(incident: Mapping[str, Any], finish: datetime) -> datetime | None:
    """When ``incident`` last stopped being at warning or above (``finish`` if it still was at the end
    of the scenario), or None if it never was."""
    end: datetime | None = None
    paging = False
    for change in incident["levels"]:
        at, up = _ts(change["at"]), _rank(change["level"]) >= WARNING
        if paging and not up:
            end = at
        paging = up
    if paging:
        resolved = incident.get("resolved_at")
        end = _ts(resolved) if resolved else finish
    return end


def _minutes(a: datetime | None, b: datetime) -> float | None:
    return None if a is None else round((a - b).total_seconds() / 60.0, 2)


@dataclass(frozen=True)
class EventScore:
    """How the radar did on one truth event."""

    seed: int
    event_id: str
    kind: str
    stream: str
    must_alert: bool
    quiet: bool
    occurrence: int
    expectation: str  # must_alert, quiet, tolerated; "learning" when the event is not scored
    start: datetime
    end: datetime
    reached_level: str
    delay_min: float | None  # onset to the first warning covering it; None when none did
    warning_incidents: tuple[str, ...]
    incidents: tuple[str, ...]  # every incident covering it (at warning or by opening time)
    #: the event's end to the last time its warning incidents stopped paging (below warning)
    paging_after_end_min: float | None = None
    #: the event's end to the resolution of its warning incidents; None when one was still open
    resolved_after_end_min: float | None = None

    @property
    def warned(self) -> bool:
        """Whether an incident covered the event at warning or above."""
        return self.delay_min is not None

    @property
    def passed(self) -> bool | None:
        """Must alert: warned (within the kind's delay target, if any). Quiet: not warned."""
        if self.expectation == "must_alert":
            target = DELAY_TARGETS_MIN.get(self.kind)
            return self.delay_min is not None and (target is None or self.delay_min <= target)
        if self.expectation == "quiet":
            return not self.warned
        return None

    def to_json(self) -> dict[str, Any]:
        """A row of the results document."""
        return {
            "seed": self.seed,
            "event_id": self.event_id,
            "kind": self.kind,
            "stream": self.stream,
            "must_alert": self.must_alert,
            "quiet": self.quiet,
            "occurrence": self.occurrence,
            "expectation": self.expectation,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "reached_level": self.reached_level,
            "delay_to_warning_min": self.delay_min,
            "warning_incidents": list(self.warning_incidents),
            "incidents": list(self.incidents),
            "paging_after_end_min": self.paging_after_end_min,
            "resolved_after_end_min": self.resolved_after_end_min,
            "pass": self.passed,
        }


@dataclass
class SeedScore:
    """The score of one backtest against its truth."""

    seed: int
    events: list[EventScore]
    #: pages covering no event, after learning: incident ids
    false_alerts: list[str] = field(default_factory=list)
    #: incidents that never paged and cover no event, after learning, per incident kind: ids
    watch_only: dict[str, list[str]] = field(default_factory=dict)
    calm_stream_weeks: float = 0.0
    scored_stream_weeks: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Per-seed figures (the event rows are written separately)."""
        return {
            "seed": self.seed,
            "false_alerts": self.false_alerts,
            "watch_only": self.watch_only,
            "calm_stream_weeks": round(self.calm_stream_weeks, 4),
            "scored_stream_weeks": round(self.scored_stream_weeks, 4),
        }


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _expectation(event: Mapping[str, Any]) -> str:
    if event["must_alert"]:
        return "must_alert"
    return "quiet" if event["quiet"] else "tolerated"


def _union_length(spans: Iterable[tuple[datetime, datetime]], lo: datetime, hi: datetime) -> timedelta:
    """Length of the union of ``spans`` clipped to ``[lo, hi]``."""
    total = timedelta(0)
    cur_start: datetime | None = None
    cur_end = lo
    for s, e in sorted((max(s, lo), min(e, hi)) for s, e in spans):
        if e <= s:
            continue
        if cur_start is None or s > cur_end:
            if cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_start is not None:
        total += cur_end - cur_start
    return total


def score(
    truth: Mapping[str, Any],
    backtest: Mapping[str, Any],
    warmup: timedelta | Mapping[str, timedelta],
) -> SeedScore:
    """Score a backtest output (DESIGN §3) against the scenario truth it ran on.

    ``warmup`` is the learning period, one for all streams or per stream name (a missing stream
    gets none). See the module docstring for every definition.
    """
    begin, finish = _ts(truth["start"]), _ts(truth["end"])
    streams = [s["name"] for s in truth["streams"]]

    def learned_at(stream: str) -> datetime:
        w = warmup if isinstance(warmup, timedelta) else warmup.get(stream, timedelta(0))
        return begin + w

    incidents = [
        (inc, _ts(inc["opened_at"]), warning_time(inc)) for inc in backtest["incidents"] if inc["levels"]
    ]
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    events: list[EventScore] = []
    covered_at_warning: set[str] = set()
    covered: set[str] = set()
    for event in truth["events"]:
        stream = event["stream"]
        start, end = _ts(event["start"]), _ts(event["end"])
        lo, hi = start - BEFORE, end + AFTER
        windows.setdefault(stream, []).append((lo, hi))
        warned: list[tuple[datetime, str]] = []
        touching: list[str] = []
        paged_until: list[datetime | None] = []
        resolved: list[datetime | None] = []
        reached = 0
        for inc, opened, warned_at in incidents:
            if inc["stream"] != stream:
                continue
            if warned_at is not None and lo <= warned_at <= hi:
                warned.append((warned_at, inc["id"]))
                touching.append(inc["id"])
                paged_until.append(paging_end(inc, finish))
                resolved.append(_ts(inc["resolved_at"]) if inc.get("resolved_at") else None)
                reached = max(reached, _rank(inc["peak_level"]))
            elif lo <= opened <= hi:
                touching.append(inc["id"])
                reached = max(reached, _rank("watch"))
        covered_at_warning.update(i for _, i in warned)
        covered.update(touching)
        delay = None
        if warned:
            delay = round((min(warned)[0] - start).total_seconds() / 60.0, 2)
        expectation = _expectation(event) if start >= learned_at(stream) else "learning"
        events.append(
            EventScore(
                seed=int(truth["seed"]),
                event_id=event["id"],
                kind=event["kind"],
                stream=stream,
                must_alert=bool(event["must_alert"]),
                quiet=bool(event["quiet"]),
                occurrence=int(event.get("occurrence", 1)),
                expectation=expectation,
                start=start,
                end=end,
                reached_level=LEVELS[reached],
                delay_min=delay,
                warning_incidents=tuple(i for _, i in sorted(warned)),
                incidents=tuple(touching),
                paging_after_end_min=_minutes(max((t for t in paged_until if t), default=None), end),
                resolved_after_end_min=(
                    None if not resolved or None in resolved else _minutes(max(r for r in resolved if r), end)
                ),
            )
        )
    false_alerts: list[str] = []
    watch_only: dict[str, list[str]] = {}
    for inc, opened, warned_at in incidents:
        if warned_at is not None:
            if warned_at >= learned_at(inc["stream"]) and inc["id"] not in covered_at_warning:
                false_alerts.append(inc["id"])
        elif opened >= learned_at(inc["stream"]) and inc["id"] not in covered:
            watch_only.setdefault(inc["kind"], []).append(inc["id"])
    calm = scored = timedelta(0)
    for stream in streams:
        lo = min(learned_at(stream), finish)
        scored += finish - lo
        calm += finish - lo - _union_length(windows.get(stream, []), lo, finish)
    return SeedScore(int(truth["seed"]), events, false_alerts, watch_only, calm / WEEK, scored / WEEK)


# -- pooling a set of seeds -----------------------------------------------------------------------
def _occurrences(rows: Sequence[EventScore]) -> str:
    occ = sorted({r.occurrence for r in rows})
    return str(occ[0]) if occ[0] == occ[-1] else f"{occ[0]}-{occ[-1]}"


def _group(rows: Sequence[EventScore]) -> dict[str, Any]:
    first = rows[0]
    kind, expectation = first.kind, first.expectation
    warned = [r for r in rows if r.warned]
    delays = [r.delay_min for r in rows if r.delay_min is not None]
    reached = Counter(r.reached_level for r in rows)
    label = kind
    if kind == "scheduled_spike":
        label = f"{kind} #{_occurrences(rows)}"
    out: dict[str, Any] = {
        "label": label,
        "kind": kind,
        "expectation": expectation,
        "occurrences": sorted({r.occurrence for r in rows}),
        "events": len(rows),
        "warned": len(warned),
        "share_warned": round(len(warned) / len(rows), 4),
        "reached": {lvl: reached[lvl] for lvl in reversed(LEVELS) if reached[lvl]},
        "median_delay_min": round(statistics.median(delays), 2) if delays else None,
        "max_delay_min": round(max(delays), 2) if delays else None,
        "warning_incidents": len({(r.seed, i) for r in rows for i in r.warning_incidents}),
        **_settling(warned),
        "missed": [f"{r.seed}:{r.event_id}" for r in rows if not r.warned and r.must_alert],
        "warned_events": [f"{r.seed}:{r.event_id}" for r in warned if not r.must_alert],
        "target": None,
        "pass": None,
        "why": "",
    }
    if expectation == "must_alert":
        target = DELAY_TARGETS_MIN.get(kind)
        out["delay_target_min"] = target
        problems = []
        if len(warned) < len(rows):
            problems.append(f"{len(rows) - len(warned)} missed")
        median = out["median_delay_min"]
        if target is not None and median is not None and median > target:
            problems.append(f"median {median:g} > {target:g} min")
        out["target"] = "all reach warning" + (f"; median <= {target:g} min" if target is not None else "")
        out["pass"] = not problems
        out["why"] = "; ".join(problems)
    elif expectation == "quiet":
        out["target"] = "no warning"
        out["pass"] = not warned
        out["why"] = f"{len(warned)} warned" if warned else ""
    return out


def _settling(warned: Sequence[EventScore]) -> dict[str, Any]:
    """How long the warned events' incidents went on after the events ended (medians, minutes)."""
    paging = [r.paging_after_end_min for r in warned if r.paging_after_end_min is not None]
    resolved = [r.resolved_after_end_min for r in warned if r.resolved_after_end_min is not None]
    return {
        "median_paging_after_end_min": round(statistics.median(paging), 2) if paging else None,
        "median_resolved_after_end_min": round(statistics.median(resolved), 2) if resolved else None,
        "open_at_end": len(warned) - len(resolved),
    }


def summarize(scores: Sequence[SeedScore]) -> dict[str, Any]:
    """The per-kind summary and the noise figures of a set of seeds."""
    groups: dict[tuple[str, str], list[EventScore]] = {}
    for s in scores:
        for e in s.events:
            if e.expectation != "learning":
                groups.setdefault((e.kind, e.expectation), []).append(e)

    def order(key: tuple[str, str]) -> tuple[int, int, str]:
        kind, expectation = key
        k = EVENT_KINDS.index(kind) if kind in EVENT_KINDS else len(EVENT_KINDS)
        return (EXPECTATIONS.index(expectation), k, kind)

    kinds = [_group(groups[key]) for key in sorted(groups, key=order)]
    calm = sum(s.calm_stream_weeks for s in scores)
    false_alerts = [f"{s.seed}:{i}" for s in scores for i in s.false_alerts]
    rate = len(false_alerts) / calm if calm > 0 else None
    noise: dict[str, dict[str, Any]] = {}
    for kind in ["crisis", *sorted({k for s in scores for k in s.watch_only} - {"crisis"})]:
        ids = [f"{s.seed}:{i}" for s in scores for i in s.watch_only.get(kind, [])]
        noise[kind] = {"count": len(ids), "per_stream_week": _rate(len(ids), calm), "incidents": ids}
    fa_pass = rate is not None and rate <= FALSE_ALERTS_PER_STREAM_WEEK
    judged = [k["pass"] for k in kinds if k["pass"] is not None] + [fa_pass]
    return {
        "seeds": [s.seed for s in scores],
        "kinds": kinds,
        "false_alerts": {
            "count": len(false_alerts),
            "calm_stream_weeks": round(calm, 3),
            "scored_stream_weeks": round(sum(s.scored_stream_weeks for s in scores), 3),
            "per_stream_week": _rate(len(false_alerts), calm),
            "target_per_stream_week": FALSE_ALERTS_PER_STREAM_WEEK,
            "pass": fa_pass,
            "incidents": false_alerts,
        },
        "watch_only": noise,
        "pass": all(judged),
    }


def _rate(n: int, weeks: float) -> float | None:
    return round(n / weeks, 4) if weeks > 0 else None


# -- rendering --------------------------------------------------------------------------------------
def _fmt_min(value: float | None) -> str:
    return "—" if value is None else f"{value:g} min"


def _verdict(ok: bool | None, why: str = "") -> str:
    if ok is None:
        return "—"
    return "pass" if ok else ("FAIL" + (f" ({why})" if why else ""))


_EXPECTED = {"must_alert": "must alert", "quiet": "no warning", "tolerated": "tolerated"}


def markdown(name: str, summary: Mapping[str, Any], days: int) -> str:
    """A set's tables: per event kind, then false alerts and watch-only noise."""
    seeds = summary["seeds"]
    lines = [
        f"### Set `{name}`: seeds {_spec(seeds)} ({len(seeds)} scenario(s) of {days} days, 4 streams)",
        "",
        "| event kind | expected | events | reached warning | levels reached | median delay | max delay "
        "| paging after the end | resolved after the end | target | result |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for k in summary["kinds"]:
        reached = ", ".join(f"{lvl} {n}" for lvl, n in k["reached"].items())
        expected = _EXPECTED[k["expectation"]]
        lines.append(
            f"| {k['label']} | {expected} | {k['events']} | {k['warned']}/{k['events']} "
            f"({k['share_warned']:.0%}) | {reached} | {_fmt_min(k['median_delay_min'])} "
            f"| {_fmt_min(k['max_delay_min'])} | {_fmt_min(k['median_paging_after_end_min'])} "
            f"| {_settled(k)} | {k['target'] or '—'} | {_verdict(k['pass'], k['why'])} |"
        )
    fa = summary["false_alerts"]
    lines += [
        "",
        "| calm time | count | per calm stream-week | target | result |",
        "|---|---:|---:|---|---|",
        f"| false alerts (pages covering no event) | {fa['count']} | {_per(fa['per_stream_week'])} "
        f"| <= {fa['target_per_stream_week']:g} | {_verdict(fa['pass'])} |",
    ]
    for kind, n in summary["watch_only"].items():
        what = "watch-only crisis incidents" if kind == "crisis" else f"{kind} incidents (never page)"
        lines.append(f"| {what} covering no event | {n['count']} | {_per(n['per_stream_week'])} | — | — |")
    lines += [
        "",
        f"Calm time: {fa['calm_stream_weeks']:g} stream-weeks (of {fa['scored_stream_weeks']:g} scored "
        f"after learning). Set result: **{'pass' if summary['pass'] else 'FAIL'}**.",
    ]
    missed = [m for k in summary["kinds"] for m in k["missed"]]
    if missed:
        lines.append(f"Missed must-alert events (seed:event): {', '.join(missed)}.")
    quiet_warned = [w for k in summary["kinds"] if k["expectation"] == "quiet" for w in k["warned_events"]]
    if quiet_warned:
        lines.append(f"Warnings on quiet events (seed:event): {', '.join(quiet_warned)}.")
    if fa["incidents"]:
        lines.append(f"False alerts (seed:incident): {', '.join(fa['incidents'])}.")
    return "\n".join(lines) + "\n"


def _settled(k: Mapping[str, Any]) -> str:
    """Median minutes from the end to resolution, and how many were still open at the end."""
    text = _fmt_min(k["median_resolved_after_end_min"])
    return text + (f" ({k['open_at_end']} open at the end)" if k["open_at_end"] else "")


def _per(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


# -- running ----------------------------------------------------------------------------------------
def parse_seeds(spec: str) -> list[int]:
    """``"1-5,8,10-12"`` -> ``[1, 2, 3, 4, 5, 8, 10, 11, 12]`` (order kept, duplicates dropped)."""
    seeds: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ValueError(f"seeds: {spec!r} is not like 1-5,8") from None
        if first < 0 or last < first:
            raise ValueError(f"seeds: {part!r} is not an increasing range of seeds >= 0")
        seeds.extend(s for s in range(first, last + 1) if s not in seeds)
    if not seeds:
        raise ValueError(f"seeds: {spec!r} names no seed")
    return seeds


def _spec(seeds: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3,5"``."""
    parts: list[str] = []
    run: list[int] = []
    for s in seeds:
        if run and s == run[-1] + 1:
            run.append(s)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [s]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def run_seed(seed: int, days: int, backtest_workers: int, keep: Path | None) -> dict[str, Any]:
    """Generate scenario ``seed`` (as ``radar generate``), backtest it (as ``radar backtest``).

    Returns the truth, the backtest output without each level change's ``why``, the warmup per
    stream from the configuration it ran with, and timings.
    """
    started = time.perf_counter()
    scenario = default_scenario(seed=seed, days=days)
    with tempfile.TemporaryDirectory(prefix=f"scenario-{seed}-") as tmp:
        d = Path(tmp)
        mentions, truth_path, config_path = d / "mentions.jsonl", d / "truth.json", d / "radar.toml"
        write_scenario(scenario, mentions, truth_path)
        config_path.write_text(config_toml(stream_rules(scenario)), encoding="utf-8")
        generated = time.perf_counter()
        config = load_config(config_path)
        result = run_backtest(read_mentions(mentions), config, VaderScorer(), workers=backtest_workers)
        output = result.to_json()
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        if keep is not None:
            out_dir = keep / f"seed-{seed}"
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "truth.json").write_text(truth_path.read_text(encoding="utf-8"), encoding="utf-8")
            (out_dir / "radar.toml").write_text(config_path.read_text(encoding="utf-8"), encoding="utf-8")
            (out_dir / "incidents.json").write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    done = time.perf_counter()
    for inc in output["incidents"]:
        inc["levels"] = [{"at": c["at"], "level": c["level"]} for c in inc["levels"]]
    warmup = {s["name"]: config.detection_for(s["name"]).warmup_hours for s in truth["streams"]}
    return {
        "seed": seed,
        "truth": truth,
        "backtest": output,
        "warmup_hours": warmup,
        "generate_seconds": round(generated - started, 1),
        "backtest_seconds": round(done - generated, 1),
    }


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=SOURCE, capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return ""
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "detectors", "radar", "alerts")
    return {"commit": git("rev-parse", "HEAD") or None, "uncommitted_changes": changed.splitlines()}


def _sets(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, list[int]]:
    try:
        if args.tune or args.report:
            if not (args.tune and args.report):
                parser.error("--tune and --report go together")
            tune, report = parse_seeds(args.tune), parse_seeds(args.report)
            if set(tune) & set(report):
                parser.error(f"seeds in both sets: {sorted(set(tune) & set(report))}")
            return {"tune": tune, "report": report}
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        parser.error(str(exc))
    if args.split:
        if len(seeds) < 2:
            parser.error("--split needs at least 2 seeds")
        half = len(seeds) // 2
        return {"tune": seeds[:half], "report": seeds[half:]}
    return {"all": seeds}


def main(argv: list[str] | None = None) -> int:
    """Run the suite, print the tables, write the JSON and markdown results."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", default="1-10", help="seeds, e.g. 1-10 or 1-5,8 (default 1-10)")
    parser.add_argument("--split", action="store_true", help="first half of --seeds tunes, the rest reports")
    parser.add_argument("--tune", help="tuning seeds (with --report: two sets, --seeds ignored)")
    parser.add_argument("--report", help="held-out report seeds")
    parser.add_argument("--days", type=int, default=21, help="scenario length in days, >= 7 (default 21)")
    parser.add_argument("--workers", type=int, default=None, help="seeds run in parallel (default: CPUs)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "scenarios.json", help="results JSON"
    )
    parser.add_argument("--keep", type=Path, help="also keep each seed's truth, config and incidents here")
    args = parser.parse_args(argv)
    if args.days < 7:
        parser.error("--days must be >= 7")
    sets = _sets(args, parser)
    seeds = [s for members in sets.values() for s in members]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = max(1, min(args.workers or cpus, len(seeds)))
    # one seed at a time: score sentiment in other processes; several: each in its own process
    backtest_workers = max(0, min(cpus - 1, 4)) if workers == 1 else 0
    command = "python bench/scenarios.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    runs: dict[int, dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {s: pool.submit(run_seed, s, args.days, backtest_workers, args.keep) for s in seeds}
        for s, fut in futures.items():
            runs[s] = fut.result()
            r = runs[s]
            print(
                f"seed {s}: generated in {r['generate_seconds']} s, backtest {r['backtest_seconds']} s, "
                f"{len(r['backtest']['incidents'])} incidents",
                file=sys.stderr,
                flush=True,
            )
    elapsed = time.perf_counter() - started
    scores = {
        s: score(r["truth"], r["backtest"], {k: timedelta(hours=h) for k, h in r["warmup_hours"].items()})
        for s, r in runs.items()
    }
    summaries = {name: summarize([scores[s] for s in members]) for name, members in sets.items()}
    set_of = {s: name for name, members in sets.items() for s in members}
    doc = {
        "command": command,
        "git": _git(),
        "machine": f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {cpus} cpus",
        "days": args.days,
        "workers": workers,
        "runtime_seconds": round(elapsed, 1),
        "definitions": {
            "window": f"[start - {BEFORE}, end + {AFTER}] on the event's stream",
            "covers_at_warning": "first warning-or-above time of the incident in the window",
            "covers": "opening time or first warning time in the window",
            "false_alert": "incident reaching warning after learning that covers no truth event at warning",
            "watch_only": "incident never reaching warning, opened after learning, covering no event",
            "learning": "scenario start + the stream's detection.warmup_hours",
            "delay_targets_min": DELAY_TARGETS_MIN,
            "false_alerts_per_stream_week": FALSE_ALERTS_PER_STREAM_WEEK,
        },
        "sets": {name: {"seeds": members, "summary": summaries[name]} for name, members in sets.items()},
        "seeds": [
            {
                **scores[s].to_json(),
                "set": set_of[s],
                "warmup_hours": runs[s]["warmup_hours"],
                "incidents": len(runs[s]["backtest"]["incidents"]),
                "generate_seconds": runs[s]["generate_seconds"],
                "backtest_seconds": runs[s]["backtest_seconds"],
            }
            for s in seeds
        ],
        "events": [{"set": set_of[s], **e.to_json()} for s in seeds for e in scores[s].events],
    }
    tables = [markdown(name, summaries[name], args.days) for name in sets]
    dirty = ", uncommitted changes in radar/detectors/alerts" if doc["git"]["uncommitted_changes"] else ""
    md = "\n".join(
        [
            "## Scenario suite: detection quality per event kind",
            "",
            f"`{command}` ({elapsed:.0f} s, {workers} worker process(es); commit "
            f"{(doc['git']['commit'] or '?')[:10]}{dirty}"
            "). Definitions: the docstring of `bench/scenarios.py`.",
            "",
            *tables,
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(md, encoding="utf-8")
    print(md)
    print(f"written {args.out} and {args.out.with_suffix('.md')} in {elapsed:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
