"""The scenario-suite benchmark's scoring (bench/scenarios.py) on small hand-made truth and incidents.

No scenario is generated and no backtest runs: :func:`score` is a pure function of the truth
document, the backtest output (DESIGN §3) and the learning period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.scenarios import markdown, parse_seeds, score, summarize

START = datetime(2026, 3, 2, tzinfo=UTC)
DAY = timedelta(days=1)
WARMUP = timedelta(hours=24)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START + timedelta(days=day, hours=hour, minutes=minute)


def event(
    id: str,
    kind: str,
    start: datetime,
    minutes: int,
    stream: str = "acme",
    occurrence: int = 1,
) -> dict[str, Any]:
    must = kind in {"sudden_crisis", "slow_burn", "low_volume_crisis", "sentiment_flip"}
    quiet = kind in {"buzz", "spam", "outage", "blip"} or (kind == "scheduled_spike" and occurrence > 2)
    return {
        "id": id,
        "kind": kind,
        "stream": stream,
        "start": _iso(start),
        "end": _iso(start + timedelta(minutes=minutes)),
        "must_alert": must,
        "quiet": quiet,
        "occurrence": occurrence,
        "description": "",
        "params": {},
    }


def truth(
    events: list[dict[str, Any]], days: int = 14, streams: tuple[str, ...] = ("acme",)
) -> dict[str, Any]:
    return {
        "seed": 1,
        "start": _iso(START),
        "end": _iso(START + days * DAY),
        "days": days,
        "streams": [{"name": s} for s in streams],
        "events": events,
    }


def incident(stream: str, kind: str, *changes: tuple[datetime, str]) -> dict[str, Any]:
    """An incident with its level changes; it resolves (calm) an hour after the last one."""
    levels = [{"at": _iso(t), "level": lvl, "why": {}} for t, lvl in changes]
    resolved = changes[-1][0] + timedelta(hours=1)
    levels.append({"at": _iso(resolved), "level": "calm", "why": {}})
    order = ["calm", "watch", "warning", "crisis"]
    return {
        "id": f"{stream}:{kind}:{changes[0][0].strftime('%Y%m%dT%H%MZ')}",
        "stream": stream,
        "kind": kind,
        "opened_at": _iso(changes[0][0]),
        "resolved_at": _iso(resolved),
        "peak_level": max((lvl for _, lvl in changes), key=order.index),
        "levels": levels,
    }


def output(*incidents: dict[str, Any]) -> dict[str, Any]:
    return {"incidents": list(incidents), "streams": {}, "summary": {}}


def test_must_alert_event_caught_at_warning_with_its_delay() -> None:
    onset = at(5, 10)
    t = truth([event("e1", "sudden_crisis", onset, 120)])
    inc = incident(
        "acme",
        "crisis",
        (onset + timedelta(minutes=2), "watch"),
        (onset + timedelta(minutes=4), "warning"),
        (onset + timedelta(minutes=6), "crisis"),
    )
    s = score(t, output(inc), WARMUP)
    (e,) = s.events
    assert (e.expectation, e.reached_level, e.delay_min) == ("must_alert", "crisis", 4.0)
    assert e.warning_incidents == (inc["id"],) and e.passed is True
    assert s.false_alerts == [] and s.watch_only == {}
    row = summarize([s])["kinds"][0]
    assert (row["label"], row["warned"], row["median_delay_min"], row["max_delay_min"]) == (
        "sudden_crisis",
        1,
        4.0,
        4.0,
    )
    assert row["pass"] is True


def test_missed_must_alert_event_and_a_too_slow_one() -> None:
    t = truth(
        [
            event("e1", "slow_burn", at(4, 6), 600),
            event("e2", "slow_burn", at(8, 6), 600),
            event("e3", "sudden_crisis", at(10, 9), 60),
        ]
    )
    watch_only = incident("acme", "crisis", (at(4, 9), "watch"))  # never reaches warning
    late = incident("acme", "crisis", (at(8, 9), "watch"), (at(8, 10), "warning"))  # 4 h in
    s = score(t, output(watch_only, late), WARMUP)
    e1, e2, e3 = s.events
    assert (e1.reached_level, e1.delay_min, e1.passed) == ("watch", None, False)
    assert e1.incidents == (watch_only["id"],)
    assert (e2.reached_level, e2.delay_min, e2.passed) == ("warning", 240.0, False)
    assert (e3.reached_level, e3.delay_min, e3.incidents) == ("calm", None, ())
    assert s.watch_only == {}  # the watch-only incident covers an event: not noise
    rows = {r["label"]: r for r in summarize([s])["kinds"]}
    slow = rows["slow_burn"]
    assert (slow["warned"], slow["events"], slow["median_delay_min"]) == (1, 2, 240.0)
    assert slow["missed"] == ["1:e1"] and slow["pass"] is False
    assert slow["why"] == "1 missed; median 240 > 120 min"
    assert rows["sudden_crisis"]["pass"] is False and rows["sudden_crisis"]["median_delay_min"] is None


def test_false_warning_counted_once_per_incident() -> None:
    t = truth([event("e1", "sudden_crisis", at(9, 12), 60)])
    flapping = incident(
        "acme",
        "crisis",
        (at(3, 2), "warning"),
        (at(3, 2, 20), "crisis"),
        (at(3, 2, 40), "warning"),
        (at(3, 3), "watch"),
        (at(3, 3, 30), "warning"),
    )
    noise = incident("acme", "crisis", (at(6, 4), "watch"))
    s = score(t, output(flapping, noise), WARMUP)
    assert s.false_alerts == [flapping["id"]]
    assert s.watch_only == {"crisis": [noise["id"]]}
    summary = summarize([s])
    fa = summary["false_alerts"]
    calm_weeks = (13 * DAY - timedelta(minutes=60 + 15 + 120)) / timedelta(days=7)
    assert fa["count"] == 1 and fa["calm_stream_weeks"] == pytest.approx(calm_weeks, abs=1e-3)
    assert fa["per_stream_week"] == pytest.approx(1 / calm_weeks, abs=1e-3)
    assert fa["pass"] is False  # 0.54 per stream-week > 0.2
    assert summary["watch_only"]["crisis"]["count"] == 1
    assert summary["pass"] is False


def test_warning_on_buzz_counts_against_the_buzz_not_as_a_false_alert() -> None:
    t = truth([event("e1", "buzz", at(5, 14), 90), event("e2", "spam", at(7, 14), 40)])
    on_buzz = incident("acme", "crisis", (at(5, 14, 30), "warning"))
    buzz_watch = incident("acme", "buzz", (at(5, 14, 5), "watch"))
    s = score(t, output(buzz_watch, on_buzz), WARMUP)
    buzz, spam = s.events
    assert (buzz.expectation, buzz.reached_level, buzz.passed) == ("quiet", "warning", False)
    assert buzz.warning_incidents == (on_buzz["id"],)
    assert set(buzz.incidents) == {on_buzz["id"], buzz_watch["id"]}
    assert (spam.reached_level, spam.passed) == ("calm", True)
    assert s.false_alerts == [] and s.watch_only == {}
    rows = {r["label"]: r for r in summarize([s])["kinds"]}
    assert (rows["buzz"]["warned"], rows["buzz"]["pass"], rows["buzz"]["why"]) == (1, False, "1 warned")
    assert rows["buzz"]["warned_events"] == ["1:e1"]
    assert rows["spam"]["pass"] is True


def test_scheduled_spikes_follow_the_truths_quiet_flag() -> None:
    spikes = [event(f"e{k}", "scheduled_spike", at(3 + 7 * (k - 1), 10), 30, occurrence=k) for k in (1, 2, 3)]
    assert [e["quiet"] for e in spikes] == [False, False, True]
    t = truth(spikes, days=21)
    warnings = [incident("acme", "crisis", (at(3 + 7 * k, 10, 5), "warning")) for k in range(3)]
    s = score(t, output(*warnings), WARMUP)
    assert [(e.expectation, e.warned, e.passed) for e in s.events] == [
        ("tolerated", True, None),
        ("tolerated", True, None),
        ("quiet", True, False),
    ]
    assert s.false_alerts == []  # a warning on a tolerated spike covers a truth event
    rows = summarize([s])["kinds"]
    assert [(r["label"], r["expectation"], r["warned"], r["pass"]) for r in rows] == [
        ("scheduled_spike #1-2", "tolerated", 2, None),
        ("scheduled_spike #3", "quiet", 1, False),
    ]


def test_quiet_flag_not_occurrence_decides() -> None:
    spike = event("e1", "scheduled_spike", at(5, 10), 30, occurrence=3)
    spike["quiet"] = False  # the truth, not a rule of ours, says whether a warning is allowed
    s = score(truth([spike]), output(incident("acme", "crisis", (at(5, 10, 5), "warning"))), WARMUP)
    assert s.events[0].expectation == "tolerated" and s.events[0].passed is None


def test_learning_period_is_excluded() -> None:
    t = truth([event("e1", "blip", at(0, 20), 15)], days=8)
    in_learning = incident("acme", "crisis", (at(0, 9), "watch"), (at(0, 9, 5), "crisis"))
    noise_in_learning = incident("acme", "crisis", (at(0, 12), "watch"))
    after = incident("acme", "crisis", (at(1, 0, 30), "warning"))
    s = score(t, output(in_learning, noise_in_learning, after), WARMUP)
    assert s.false_alerts == [after["id"]]
    assert s.watch_only == {}
    assert s.events[0].expectation == "learning"
    assert summarize([s])["kinds"] == []  # events in the learning period are not scored
    assert s.scored_stream_weeks == pytest.approx(1.0)
    assert s.calm_stream_weeks == pytest.approx(1.0)  # the blip's window ends within learning


def test_per_stream_warmup_and_streams_kept_apart() -> None:
    t = truth(
        [event("e1", "sudden_crisis", at(4, 10), 60, stream="acme")], days=8, streams=("acme", "nimbus")
    )
    other_stream = incident("nimbus", "crisis", (at(4, 10, 5), "warning"))
    early = incident("acme", "crisis", (at(1, 12), "warning"))
    warmup = {"acme": timedelta(hours=48), "nimbus": timedelta(hours=24)}
    s = score(t, output(other_stream, early), warmup)
    assert s.events[0].warned is False  # a warning on another stream does not cover it
    assert s.false_alerts == [other_stream["id"]]  # acme's warning is in its 48 h of learning
    window = timedelta(minutes=60 + 15 + 120)
    assert s.calm_stream_weeks == pytest.approx((6 * DAY - window + 7 * DAY) / timedelta(days=7))


def test_window_edges() -> None:
    onset = at(5, 10)
    t = truth([event("e1", "sudden_crisis", onset, 60), event("e2", "buzz", at(8, 10), 60)])
    early = incident("acme", "crisis", (onset - timedelta(minutes=15), "warning"))
    too_late = incident("acme", "crisis", (at(8, 13, 1), "warning"))  # end + 2 h + 1 min
    opened_in = incident("acme", "crisis", (at(8, 12, 59), "watch"), (at(8, 13, 5), "warning"))
    s = score(t, output(early, too_late, opened_in), WARMUP)
    crisis, buzz = s.events
    assert crisis.delay_min == -15.0
    assert buzz.warned is False and buzz.reached_level == "watch"  # opened in the window, warned after
    assert set(s.false_alerts) == {too_late["id"], opened_in["id"]}


def test_pooled_summary_and_markdown() -> None:
    scores = []
    for seed, delay in ((1, 3), (2, 7), (3, 20)):
        t = truth([event("e1", "sudden_crisis", at(5, 10), 60)], days=21)
        t["seed"] = seed
        inc = incident("acme", "crisis", (at(5, 10, delay), "crisis"))
        scores.append(score(t, output(inc), WARMUP))
    summary = summarize(scores)
    row = summary["kinds"][0]
    assert (row["events"], row["warned"], row["median_delay_min"], row["max_delay_min"]) == (3, 3, 7.0, 20.0)
    assert row["pass"] is True and summary["false_alerts"]["count"] == 0 and summary["pass"] is True
    text = markdown("all", summary, 21)
    assert "seeds 1-3" in text
    assert "| sudden_crisis | must alert | 3 | 3/3 (100%) | crisis 3 | 7 min | 20 min |" in text
    assert "Set result: **pass**" in text


def test_parse_seeds() -> None:
    assert parse_seeds("1-5,8,10-11") == [1, 2, 3, 4, 5, 8, 10, 11]
    assert parse_seeds("3,3,2") == [3, 2]
    for bad in ("", "5-1", "a-b", "-3"):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)
