"""The airline benchmark's report (bench/airline.py) on a small hand-made incidents document.

No data is read and no backtest runs: :func:`build_report` is a pure function of the backtest
output (DESIGN §3), the per-airline facts and how the run was made.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bench.airline import (
    FRAGMENT,
    RunInfo,
    StreamFacts,
    TopicTrace,
    alerts_of,
    build_report,
    fmt_relative,
    ordinary_counts,
    wave_onset,
)

T0 = datetime(2015, 2, 22, 12, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def why(negative: int, expected: float, *, terms: tuple[str, ...] = (), post: str = "") -> dict[str, Any]:
    return {
        "window_minutes": 60,
        "mentions": negative * 2,
        "expected": expected * 3,
        "negative": negative,
        "negative_expected": expected,
        "ratio": round(negative / expected, 2),
        "negative_share": 0.5,
        "negative_share_baseline": 0.3,
        "surprise": 7.2,
        "slow_burn": False,
        "top_terms": [{"term": t, "count": 5, "lift": 4.0} for t in terms],
        "top_posts": [{"id": "1", "text": post}] if post else [],
    }


def incident(
    stream: str,
    kind: str,
    opened: datetime,
    changes: list[tuple[int, str, dict[str, Any]]],
    resolved: int | None,
) -> dict[str, Any]:
    levels = [{"at": iso(opened + timedelta(minutes=m)), "level": lv, "why": w} for m, lv, w in changes]
    peak = max((c[1] for c in changes), key=["calm", "watch", "warning", "crisis"].index)
    return {
        "id": f"{stream}:{kind}:{opened:%Y%m%dT%H%MZ}",
        "stream": stream,
        "kind": kind,
        "opened_at": iso(opened),
        "resolved_at": iso(opened + timedelta(minutes=resolved)) if resolved is not None else None,
        "peak_level": peak,
        "levels": levels,
    }


def document() -> dict[str, Any]:
    long_post = "@united my flight was Cancelled Flightled and nobody answers the phone " * 3
    return {
        "incidents": [
            # united: a false crisis two days before the wave, then a warning for the wave
            incident(
                "united",
                "crisis",
                T0 - timedelta(days=2),
                [(0, "crisis", why(8, 0.2)), (30, "watch", why(3, 0.2)), (90, "calm", {})],
                90,
            ),
            incident(
                "united",
                "crisis",
                T0 + timedelta(hours=1),
                [
                    (0, "watch", why(6, 2.0)),
                    (4, "warning", why(12, 3.0, terms=("cancelled",), post=long_post)),
                ],
                None,
            ),
            incident(
                "united", "buzz", T0 + timedelta(hours=3), [(0, "watch", why(4, 1.0)), (60, "calm", {})], 60
            ),
            # delta: only a watch (never notifies) on an airline without a wave
            incident("delta", "crisis", T0, [(0, "watch", why(5, 1.0)), (60, "calm", {})], 60),
        ]
    }


def facts() -> dict[str, StreamFacts]:
    united = StreamFacts("united", "United", mentions=100, negative=20, labelled_negative=60)
    united.onset = T0 + timedelta(hours=2)
    # the false crisis's hour held 9 negatives the day before it: nothing unusual
    united.negatives = {int((T0 - timedelta(days=3, minutes=30)).timestamp()): 9}
    united.handle_scores = [("@united", 0.42)]
    united.wave_seen, united.wave_expected, united.ordinary_daily = 300.0, 250.0, 120.0
    delta = StreamFacts(
        "delta", "Delta", mentions=50, negative=10, labelled_negative=20, reference_mentions=10
    )
    return {"united": united, "delta": delta}


def test_alerts_are_the_first_warning_or_crisis_of_crisis_incidents() -> None:
    alerts = alerts_of(document(), facts())
    assert [(a.stream, a.change["level"], a.for_wave) for a in alerts] == [
        ("united", "crisis", False),
        ("united", "warning", True),
    ]
    false_one = alerts[0]
    assert false_one.ordinary == [0, 9]  # Feb 18 and Feb 19: the same clock window
    assert false_one.looks_ordinary and false_one.looks_false
    assert not alerts[1].looks_false


def test_report_says_what_was_raised_when_and_why() -> None:
    text = build_report(document(), facts(), RunInfo(commit="0123456789abcdef", seconds=1.5))
    assert "commit `0123456789`" in text
    # the overview: the wave's first warning, relative to the reference onset
    assert "warning Feb 22 13:04 (56 min before onset)" in text
    # the why in plain words, with a short fragment of the post only
    assert "12 negative mentions in the last 60 min where 3 were expected (4× normal" in text
    assert "negative share 50% against a usual 30%" in text
    assert "*cancelled* (5, 4× usual)" in text
    quoted = text.split("most amplified post “")[1].split("”")[0]
    assert len(quoted) <= FRAGMENT and quoted.endswith("…")
    # the incidents table: still open at the end of the data
    assert (
        "| crisis | warning | Feb 22 13:00 | Feb 22 13:04 | – | open at end of data | watch → warning |"
        in text
    )
    # the false alert is listed with what the same window held on an ordinary day
    assert "| United | Feb 20 12:00 | crisis | yes | 8 in 60 min (0.2) | 0, 9 | none |" in text
    assert "2 crisis incidents reached warning or crisis" in text
    assert "VADER scores the handle @united alone at +0.42" in text
    assert (
        "the radar counted 300 negatives and expected 250 (1.2×; an ordinary day of Feb 18–20 held 120"
        in text
    )
    # an airline with a watch only and no wave: raised, but never counted as an alert
    assert "| Delta | 50 |" in text and "no wave" in text


def test_report_says_so_when_the_wave_is_not_caught() -> None:
    doc = {
        "incidents": [i for i in document()["incidents"] if i["stream"] != "united" or i["kind"] == "buzz"]
    }
    text = build_report(doc, facts(), RunInfo())
    assert "**Not caught**" in text
    assert "only 1 buzz incident(s), which never page" in text
    assert "emerging topic" not in text  # no trace of the terms: nothing said about them


def test_a_wave_not_caught_says_how_close_an_emerging_topic_came() -> None:
    doc = {
        "incidents": [i for i in document()["incidents"] if i["stream"] != "united" or i["kind"] == "buzz"]
    }
    f = facts()
    end = int((T0 + timedelta(hours=3)).timestamp())
    f["united"].topic_peak = TopicTrace(end, "hold", 10.5, 2, 0.4)
    f["united"].cancelled_peak = TopicTrace(end - 600, "hold", 9.0, 10, 7.4)
    f["united"].topic_trigger = 20.0
    text = build_report(doc, f, RunInfo())
    assert "takes a term of the last hour at a surprise of 20 " in text
    assert "the most unusual term reached 10.5 (“hold”, in the hour to Feb 22 15:00)" in text
    assert "“cancelled” reached 7.4 (10 times in the hour to Feb 22 14:50)" in text


def test_wave_onset_needs_more_than_any_window_before_the_wave() -> None:
    before = [datetime(2015, 2, 20, 10, tzinfo=UTC) + timedelta(minutes=10 * i) for i in range(12)]
    wave = [datetime(2015, 2, 22, 8, tzinfo=UTC) + timedelta(minutes=5 * i) for i in range(20)]
    onset, threshold = wave_onset(before + wave)
    assert threshold == 13  # 12 within 6 h before the wave: the wave needs 13
    assert onset == wave[12]
    assert wave_onset(before)[0] is None


def test_ordinary_counts_and_relative_times() -> None:
    at = datetime(2015, 2, 21, 12, tzinfo=UTC)
    negatives = {int(datetime(2015, 2, 18, 11, 30, tzinfo=UTC).timestamp()): 4}
    assert ordinary_counts(negatives, at, 60) == [4, 0, 0]
    assert ordinary_counts(negatives, at, 15) == [0, 0, 0]
    assert fmt_relative(at, at + timedelta(hours=3)) == "3.0 h before onset"
    assert fmt_relative(at + timedelta(minutes=20), at) == "20 min after onset"
