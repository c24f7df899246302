"""End to end: a generated 21-day, 4-stream scenario through ``radar generate`` and ``radar backtest``.

The scenario's truth file says what was injected; the backtest output (DESIGN §3) must show a
crisis incident for every crisis and none for buzz, spam, the outage backlog, scheduled spikes
or blips. Fixed seed, real VADER, real files: about half a minute.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from radar.cli import main

SEED = 7
WARNING_AT_LEAST = {"warning", "crisis"}
NOT_CRISES = {"buzz", "spam", "outage", "scheduled_spike", "blip"}


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _overlaps(incident: dict[str, Any], start: datetime, end: datetime) -> bool:
    opened = _ts(incident["opened_at"])
    resolved = (
        _ts(incident["resolved_at"]) if incident["resolved_at"] else datetime.max.replace(tzinfo=start.tzinfo)
    )
    return opened <= end and resolved >= start


@pytest.fixture(scope="module")
def backtest(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Path]:
    d = tmp_path_factory.mktemp("backtest")
    mentions, truth, config, out = (
        d / "mentions.jsonl",
        d / "truth.json",
        d / "radar.toml",
        d / "incidents.json",
    )
    argv = ["generate", "--seed", str(SEED), "--days", "21", "--out", str(mentions)]
    assert main([*argv, "--truth", str(truth), "--config-out", str(config)]) == 0
    assert main(["backtest", str(mentions), "--out", str(out), "--config", str(config)]) == 0
    return json.loads(out.read_text()), json.loads(truth.read_text()), out


def test_output_follows_the_contract(backtest: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    doc, truth, _ = backtest
    assert doc["incidents"], "a 21-day scenario with crises produced no incident"
    levels = ["calm", "watch", "warning", "crisis"]
    for inc in doc["incidents"]:
        assert set(inc) >= {"id", "stream", "kind", "opened_at", "resolved_at", "peak_level", "levels"}
        assert inc["kind"] in {"crisis", "buzz", "source_silent"}
        assert inc["opened_at"].endswith("Z")
        times = [_ts(c["at"]) for c in inc["levels"]]
        assert times == sorted(times)
        assert inc["levels"][0]["at"] == inc["opened_at"]
        assert max(levels.index(c["level"]) for c in inc["levels"]) == levels.index(inc["peak_level"])
        if inc["resolved_at"]:
            last = inc["levels"][-1]
            assert (last["at"], last["level"]) == (inc["resolved_at"], "calm")
    assert {s["name"] for s in truth["streams"]} == set(doc["streams"])
    assert not any(s["learning"] for s in doc["streams"].values())


def test_every_crisis_is_caught(backtest: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    doc, truth, _ = backtest
    must = [e for e in truth["events"] if e["must_alert"]]
    assert {e["kind"] for e in must} >= {"sudden_crisis", "slow_burn", "low_volume_crisis", "sentiment_flip"}
    for event in must:
        start, end = _ts(event["start"]), _ts(event["end"])
        hits = [
            i
            for i in doc["incidents"]
            if i["stream"] == event["stream"] and i["kind"] == "crisis" and _overlaps(i, start, end)
        ]
        assert hits, f"missed {event['description']}"
        warned = [c for i in hits for c in i["levels"] if c["level"] in WARNING_AT_LEAST]
        assert warned, f"{event['description']}: never reached warning"
        delay = _ts(warned[0]["at"]) - start
        # a slow burn's negatives are only ~1.6x normal after 2 h: its emerging topic gives it away
        limit = timedelta(hours=2) if event["kind"] == "slow_burn" else timedelta(minutes=30)
        assert delay <= limit, f"{event['description']}: warning only after {delay}"
        if event["kind"] == "sudden_crisis":
            assert delay <= timedelta(minutes=10)


def test_a_crisis_coming_down_shows_the_last_minutes(
    backtest: tuple[dict[str, Any], dict[str, Any], Path],
) -> None:
    doc, _, _ = backtest
    order = ["calm", "watch", "warning", "crisis"]
    downs = []
    for inc in (i for i in doc["incidents"] if i["kind"] == "crisis"):
        for before, change in zip(inc["levels"], inc["levels"][1:], strict=False):
            now = change["why"].get("now") if change["why"] else None
            if change["level"] != "calm":
                assert now is not None and now["window_minutes"] == 15, change
            if order.index(change["level"]) < order.index(before["level"]) and change["level"] != "calm":
                downs.append(now)
    assert downs, "no crisis incident came down a level"
    # coming down: the negatives of the last 15 minutes are no longer far above normal
    assert sum(d["ratio"] < 3.0 for d in downs) >= 0.8 * len(downs), downs


def test_no_crisis_for_buzz_spam_outage_or_schedule(
    backtest: tuple[dict[str, Any], dict[str, Any], Path],
) -> None:
    doc, truth, _ = backtest
    quiet = [e for e in truth["events"] if e["kind"] in NOT_CRISES]
    assert {e["kind"] for e in quiet} >= {"buzz", "spam", "outage"}
    for event in quiet:
        start, end = _ts(event["start"]), _ts(event["end"]) + timedelta(hours=1)
        alarms = [
            i["id"]
            for i in doc["incidents"]
            if i["stream"] == event["stream"]
            and i["kind"] == "crisis"
            and i["peak_level"] in WARNING_AT_LEAST
            and _overlaps(i, start, end)
        ]
        assert not alarms, f"{event['description']} raised {alarms}"


def test_outage_is_reported_as_silent_source(backtest: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    doc, truth, _ = backtest
    for event in (e for e in truth["events"] if e["kind"] == "outage"):
        start, end = _ts(event["start"]), _ts(event["end"])
        silent = [
            i
            for i in doc["incidents"]
            if i["stream"] == event["stream"] and i["kind"] == "source_silent" and _overlaps(i, start, end)
        ]
        assert silent, f"{event['description']}: not reported as source_silent"
        assert all(i["peak_level"] == "watch" for i in silent)  # never pages


def test_backtest_is_deterministic(
    backtest: tuple[dict[str, Any], dict[str, Any], Path], tmp_path: Path
) -> None:
    doc, _, out = backtest
    mentions = out.parent / "mentions.jsonl"
    again = tmp_path / "again.json"
    head = tmp_path / "head.jsonl"
    # a prefix of the file keeps the comparison quick
    with mentions.open() as src, head.open("w") as dst:
        for n, line in enumerate(src):
            if n >= 60_000:
                break
            dst.write(line)
    config = out.parent / "radar.toml"
    first = tmp_path / "first.json"
    # separate processes with different string-hash seeds, with and without scoring workers:
    # nothing may depend on set order or on where sentiment was computed
    for path, seed, workers in ((first, "1", "0"), (again, "2", "1")):
        argv = ["backtest", str(head), "--out", str(path), "--config", str(config), "--workers", workers]
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "radar.cli", *argv], check=True, env=env, capture_output=True)
    assert first.read_bytes() == again.read_bytes()
    assert json.loads(first.read_text())["incidents"], "the prefix should hold incidents to compare"
    assert doc["summary"]["mentions"]["accepted"] > 250_000


def test_warmup_learns_lists_rejections_and_keeps_learned_state_unless_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mentions, config, state = tmp_path / "history.jsonl", tmp_path / "radar.toml", tmp_path / "state"
    assert (
        main(["generate", "--seed", "3", "--days", "7", "--out", str(mentions), "--config-out", str(config)])
        == 0
    )
    lines = mentions.read_text().splitlines()
    lines[5] = '{"id": "x", "text": "no time"}'
    lines[9] = "not json"
    mentions.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    argv = ["warmup", str(mentions), "--config", str(config), "--state-dir", str(state), "--workers", "0"]

    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "rejected (missing_field): line 6: created_at" in err
    assert "rejected (malformed_json): line 10" in err
    learned = re.search(r"([\d,]+) mentions learned from, 2 rejected", err)
    assert learned and int(learned[1].replace(",", "")) > 0.99 * len(lines), err[-300:]
    assert set(out.split()) >= {"acme:", "ready"}
    checkpoints = sorted((state / "checkpoints").iterdir())
    assert len(checkpoints) == 1

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main([*argv[:1], str(empty), *argv[2:], "--replace"]) == 1  # nothing to learn: nothing written
    assert "no mention to learn from" in capsys.readouterr().err
    assert main(argv) == 1  # the learned state is not replaced without --replace
    assert "--replace" in capsys.readouterr().err
    assert sorted((state / "checkpoints").iterdir()) == checkpoints
    assert main([*argv, "--replace"]) == 0
    assert len(list((state / "checkpoints").iterdir())) == 2


def test_unusable_arguments_get_one_clear_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    good = tmp_path / "m.jsonl"
    good.write_text('{"id": "1", "created_at": "2026-03-04T09:00:00Z", "text": "acme"}\n')
    cases = [
        (["backtest", str(folder), "--out", str(tmp_path / "o.json")], "Is a directory"),
        (["backtest", str(good), "--out", str(folder)], "--out"),
        (["backtest", str(good), "--out", str(tmp_path / "no" / "o.json")], "--out"),
        (["backtest", str(good), "--out", str(tmp_path / "o.json"), "--workers", "-1"], "--workers: -1"),
        (["generate", "--days", "2", "--out", str(tmp_path / "g.jsonl")], "--days: 2"),
        (["check-config", str(folder)], "Is a directory"),
    ]
    for argv, named in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"radar {argv[0]}: " in err and named in err and "Traceback" not in err, (argv, err)


def test_a_backtest_that_could_read_no_record_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "export.csv"
    wrong.write_text("tweet,when,body\n1,2026-03-04T09:00:00Z,acme\n")
    assert main(["backtest", str(wrong), "--out", str(tmp_path / "o.json"), "--workers", "0"]) == 1
    assert "no record of" in capsys.readouterr().err
