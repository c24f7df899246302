"""Mention files: JSONL, CSV, gzip, stdin and the airline CSV preset (:mod:`radar.sources.files`).

A bad line is reported (index, reason, message naming the field) and the rest of the file goes on.
Small files are written to ``tmp_path``; one test reads the real airline export from
``../shared/data/airline_tweets`` and skips when it is not there.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from radar.batch import Rejection
from radar.mention import Mention
from radar.sources.files import read_mentions

REPO_ROOT = Path(__file__).resolve().parents[1]
AIRLINE_CSV = REPO_ROOT.parent / "shared" / "data" / "airline_tweets" / "Tweets.csv"
AIRLINE_HEADER = (
    "tweet_id,airline_sentiment,airline_sentiment_confidence,negativereason,negativereason_confidence,"
    "airline,airline_sentiment_gold,name,negativereason_gold,retweet_count,text,tweet_coord,"
    "tweet_created,tweet_location,user_timezone"
)


def outline(records: list[Mention | Rejection]) -> list[tuple[str, int | str, str]]:
    """Mentions as ("ok", id, text); rejections as ("bad", index, reason)."""
    return [("ok", r.id, r.text) if isinstance(r, Mention) else ("bad", r.index, r.reason) for r in records]


def jl(**fields: Any) -> str:
    return json.dumps(fields)


GOOD_A = jl(id="a", created_at="2026-03-04T09:00:00Z", text="acme is late", stream="acme")
GOOD_B = jl(id="b", created_at="2026-03-04T09:01:00+01:00", text="acme again", author_followers=12)
JSONL_LINES = [
    GOOD_A,  # line 1
    '{"id": "x1", "created_at": ',  # line 2: malformed JSON
    jl(id="x2", created_at="2026-03-04T09:00:00Z"),  # line 3: no text
    jl(id="x3", created_at="2026-03-04T09:00:00", text="no zone"),  # line 4
    GOOD_B,  # line 5
    jl(id="x4", created_at="2026-03-04T09:00:00Z", text="t", sentiment="very"),  # line 6
]
EXPECTED_JSONL = [
    ("ok", "a", "acme is late"),
    ("bad", 1, "malformed_json"),
    ("bad", 2, "missing_field"),
    ("bad", 3, "bad_timestamp"),
    ("ok", "b", "acme again"),
    ("bad", 5, "wrong_type"),
    ("bad", 6, "invalid_utf8"),
]


def write_jsonl(path: Path) -> Path:
    body = (
        "\n".join(JSONL_LINES).encode()
        + b'\n{"id": "x5", "created_at": "2026-03-04T09:00:00Z", "text": "\xff"}\n'
    )
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(body)
    else:
        path.write_bytes(body)
    return path


@pytest.mark.parametrize("name", ["mentions.jsonl", "mentions.jsonl.gz", "mentions.ndjson"])
def test_jsonl_bad_lines_are_reported_with_their_line_and_the_rest_goes_on(tmp_path: Path, name: str) -> None:
    records = list(read_mentions(write_jsonl(tmp_path / name)))
    assert outline(records) == EXPECTED_JSONL
    # no blank lines: the index of a rejection is its line number - 1
    errors = {r.index + 1: r.error for r in records if isinstance(r, Rejection)}
    assert errors.pop(2).startswith("line 2: record: malformed JSON: Expecting value at column ")
    assert errors == {
        3: "line 3: text: required field is missing",
        4: "line 4: created_at: timestamp has no time zone: '2026-03-04T09:00:00' (add Z or +00:00)",
        6: "line 6: sentiment: input should be a valid number, unable to parse string as a number, "
        "got a string",
        7: "line 7: record: not valid UTF-8 (byte 60)",
    }
    a, b = (r for r in records if isinstance(r, Mention))
    assert (a.streams, a.created_at) == (("acme",), datetime(2026, 3, 4, 9, tzinfo=UTC))
    assert (b.author_followers, b.created_at) == (12, datetime(2026, 3, 4, 8, 1, tzinfo=UTC))


def test_jsonl_blank_lines_and_crlf_are_not_records(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(("\r\n".join([GOOD_A, "", GOOD_B, "   ", ""]) + "\r\n").encode())
    assert outline(list(read_mentions(path))) == [("ok", "a", "acme is late"), ("ok", "b", "acme again")]


def test_jsonl_with_a_byte_order_mark_keeps_its_first_record(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join([GOOD_A, GOOD_B]) + "\r\n").encode())
    assert outline(list(read_mentions(path))) == [("ok", "a", "acme is late"), ("ok", "b", "acme again")]


def test_future_timestamps_are_bounded_only_when_now_is_given(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(jl(id="f", created_at="2030-01-01T00:00:00Z", text="later") + "\n", encoding="utf-8")
    assert outline(list(read_mentions(path))) == [("ok", "f", "later")]  # history files: no bound
    (bad,) = read_mentions(path, now=datetime(2026, 3, 4, tzinfo=UTC))
    assert isinstance(bad, Rejection)
    assert (bad.index, bad.reason) == (0, "future_timestamp")


CSV_TEXT = (
    "id,created_at,text,author_followers,sentiment,stream\n"  # line 1
    "1,2026-03-04T09:00:00Z,hello acme,10,-0.5,acme\n"  # line 2, index 0
    "2,2026-03-04T09:01:00Z,,3,,\n"  # index 1: empty text
    "3,2026-03-04T09:02:00,no zone,,,\n"  # index 2
    '4,2026-03-04T09:03:00Z,"multi\nline text",many,,\n'  # index 3: lines 5-6, bad followers
    "5,2026-03-04T09:04:00Z,extra,1,0.1,acme,EXTRA\n"  # index 4: more cells than columns
    "6,2026-03-04T09:05:00Z,bad sentiment,1,abc,\n"  # index 5
    '007,2026-03-04T09:06:00+02:00,"ok, fine",,0.25,"acme"\n'  # index 6
)


@pytest.mark.parametrize("name", ["mentions.csv", "mentions.CSV", "mentions.csv.gz"])
def test_csv_bad_rows_are_reported_and_the_rest_goes_on(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
            fh.write(CSV_TEXT)
    else:
        path.write_text(CSV_TEXT, encoding="utf-8", newline="")
    records = list(read_mentions(path))
    assert [(r.index, r.reason, r.error) for r in records if isinstance(r, Rejection)] == [
        (1, "missing_field", "line 3: text: required field is missing"),
        (
            2,
            "bad_timestamp",
            "line 4: created_at: timestamp has no time zone: '2026-03-04T09:02:00' (add Z or +00:00)",
        ),
        (
            3,
            "wrong_type",
            "line 5: author_followers: input should be a valid integer, unable to parse string as an "
            "integer, got a string",
        ),
        (4, "malformed_csv", "line 7: more cells than columns"),
        (
            5,
            "wrong_type",
            "line 8: sentiment: input should be a valid number, unable to parse string as a number, "
            "got a string",
        ),
    ]
    first, last = (r for r in records if isinstance(r, Mention))
    assert (first.id, first.text, first.author_followers, first.sentiment, first.streams) == (
        "1",
        "hello acme",
        10,
        -0.5,
        ("acme",),
    )
    assert (last.id, last.text, last.author_followers, last.sentiment, last.streams) == (
        "007",  # ids stay text
        "ok, fine",
        0,
        0.25,
        ("acme",),
    )
    assert last.created_at == datetime(2026, 3, 4, 7, 6, tzinfo=UTC)


def test_csv_without_a_required_column_names_it_on_every_row(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "id,created_at,body\n1,2026-03-04T09:00:00Z,hi\n2,2026-03-04T09:00:00Z,yo\n", encoding="utf-8"
    )
    assert [(r.index, r.reason, r.error) for r in read_mentions(path) if isinstance(r, Rejection)] == [
        (0, "missing_field", "line 2: text: required field is missing"),
        (1, "missing_field", "line 3: text: required field is missing"),
    ]


def test_csv_row_with_invalid_utf8_fails_alone(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(
        b"id,created_at,text\n1,2026-03-04T09:00:00Z,caf\xe9\n2,2026-03-04T09:00:00Z,caf\xc3\xa9\n"
    )
    assert outline(list(read_mentions(path))) == [("bad", 0, "invalid_utf8"), ("ok", "2", "café")]


def test_unknown_csv_preset_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("id,created_at,text\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^unknown CSV preset 'twitter'; known: airline$"):
        list(read_mentions(path, preset="twitter"))


# -- the airline preset --------------------------------------------------------------------------------
AIRLINE_ROWS = [
    "570306133677760513,neutral,1.0,,,Virgin America,,cairdin,,0,@VirginAmerica What @dhepburn said.,,"
    "2015-02-24 11:35:52 -0800,,Eastern Time (US & Canada)",
    '570301031407624196,negative,1.0,Bad Flight,0.7033,US Airways,,jnardino,,3,"@USAirways stuck on\nthe '
    'tarmac, 2 hours",,2015-02-24 11:14:45 -0800,,Pacific Time (US & Canada)',
    "570301031407624197,positive,1.0,,,Delta,,someone,,,@JetBlue thanks,,24/02/2015 11:14,,",
    "570300000000000000,negative,1.0,,,United,,x,,1,,,2015-02-24 10:00:00 -0800,,",
]


def write_airline(path: Path) -> Path:
    text = AIRLINE_HEADER + "\n" + "\n".join(AIRLINE_ROWS) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize("name", ["tweets.csv", "tweets.csv.gz", "tweets.txt"])
def test_airline_preset_maps_the_export(tmp_path: Path, name: str) -> None:
    records = list(read_mentions(write_airline(tmp_path / name), preset="airline"))
    assert outline(records) == [
        ("ok", "570306133677760513", "@VirginAmerica What @dhepburn said."),
        ("ok", "570301031407624196", "@USAirways stuck on\nthe tarmac, 2 hours"),
        ("bad", 2, "bad_timestamp"),
        ("bad", 3, "missing_field"),
    ]
    first, second = records[0], records[1]
    assert isinstance(first, Mention) and isinstance(second, Mention)
    assert first.model_dump(exclude={"text"}) == {
        "id": "570306133677760513",
        "created_at": datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC),
        "source": "twitter",
        "author": "cairdin",
        "author_followers": 0,
        "reshares": 0,
        "likes": 0,
        "lang": "",
        "url": "",
        "streams": ("virgin-america",),
        "sentiment": None,  # the hand label is not used: the radar scores texts itself
    }
    assert (second.streams, second.reshares, second.author) == (("us-airways",), 3, "jnardino")
    assert [r.error for r in records[2:] if isinstance(r, Rejection)] == [
        "line 5: created_at: not an ISO 8601 timestamp: '24/02/2015 11:14'",  # row 2 spans lines 3-4
        "line 6: text: must not be empty",
    ]


@pytest.mark.skipif(not AIRLINE_CSV.is_file(), reason=f"{AIRLINE_CSV} not present")
def test_the_real_airline_export_reads_completely() -> None:
    mentions = [r for r in read_mentions(AIRLINE_CSV, preset="airline")]
    assert all(isinstance(m, Mention) for m in mentions)
    assert len(mentions) == 14_640
    assert len({m.id for m in mentions}) == 14_485  # 155 ids appear twice (shared/README)
    assert all(len(m.id) == 18 for m in mentions)  # never read as a float
    assert Counter(m.streams for m in mentions) == {
        ("united",): 3822,
        ("us-airways",): 2913,
        ("american",): 2759,
        ("southwest",): 2420,
        ("delta",): 2222,
        ("virgin-america",): 504,
    }
    times = sorted(m.created_at for m in mentions)
    assert (times[0], times[-1]) == (
        datetime(2015, 2, 17, 7, 36, 5, tzinfo=UTC),
        datetime(2015, 2, 24, 19, 53, 37, tzinfo=UTC),
    )
    assert sum("\n" in m.text for m in mentions) == 138  # quoted newlines stay inside their tweet


# -- stdin ("-"), through the real command line --------------------------------------------------------
def _backtest_stdin(tmp_path: Path, stdin: bytes, *args: str) -> tuple[dict[str, Any], list[str]]:
    """The backtest summary and the rejections it showed on stderr."""
    out = tmp_path / "incidents.json"
    env = {k: v for k, v in os.environ.items() if k != "RADAR_CONFIG"}
    proc = subprocess.run(
        [sys.executable, "-m", "radar.cli", "backtest", "-", "--out", str(out), "--workers", "0", *args],
        input=stdin,
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    shown = [x for x in proc.stderr.decode().splitlines() if x.startswith("rejected (")]
    return json.loads(out.read_text(encoding="utf-8"))["summary"], shown


def test_jsonl_on_stdin(tmp_path: Path) -> None:
    body = write_jsonl(tmp_path / "m.jsonl").read_bytes() + (GOOD_A + "\n").encode()  # "a" again
    summary, shown = _backtest_stdin(tmp_path, body)
    # "b" has no stream and there are no rules: unmatched
    assert summary["mentions"] == {"accepted": 1, "duplicate": 1, "unmatched": 1}
    assert summary["rejected"] == {
        "bad_timestamp": 1,
        "invalid_utf8": 1,
        "malformed_json": 1,
        "missing_field": 1,
        "wrong_type": 1,
    }
    assert [x.split(":", 1)[0] for x in shown] == [
        "rejected (malformed_json)",
        "rejected (missing_field)",
        "rejected (bad_timestamp)",
        "rejected (wrong_type)",
        "rejected (invalid_utf8)",
    ]
    assert all(x.split(": ", 2)[1] == f"line {n}" for x, n in zip(shown, [2, 3, 4, 6, 7], strict=True))


def test_airline_csv_on_stdin(tmp_path: Path) -> None:
    body = write_airline(tmp_path / "t.csv").read_bytes()
    summary, shown = _backtest_stdin(tmp_path, body, "--csv-preset", "airline")
    assert shown == [
        "rejected (bad_timestamp): line 5: created_at: not an ISO 8601 timestamp: '24/02/2015 11:14'",
        "rejected (missing_field): line 6: text: must not be empty",
    ]
    assert summary["mentions"] == {"accepted": 2}
    assert summary["rejected"] == {"bad_timestamp": 1, "missing_field": 1}


# -- odd input that once took a file or batch down -------------------------------------------------
def test_an_out_of_range_timestamp_does_not_stop_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    odd = jl(id="o", created_at="9999-12-31T23:59:59-12:00", text="t")
    path.write_text("\n".join([GOOD_A, odd, GOOD_B]) + "\n", encoding="utf-8")
    assert outline(list(read_mentions(path))) == [
        ("ok", "a", "acme is late"),
        ("bad", 1, "bad_timestamp"),
        ("ok", "b", "acme again"),
    ]


def test_malformed_line_error_gives_the_right_column(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "x1", "created_at": \n', encoding="utf-8")
    (bad,) = read_mentions(path)
    assert isinstance(bad, Rejection)
    assert bad.error == "line 1: record: malformed JSON: Expecting value at column 28"


def test_rejection_locates_its_line_after_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join([GOOD_A, "", "", "{oops"]) + "\n", encoding="utf-8")
    (_, bad) = read_mentions(path)
    assert isinstance(bad, Rejection)
    assert bad.index == 1  # the second record
    assert bad.error.startswith("line 4: record: malformed JSON")


def test_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(b"\xef\xbb\xbfid,created_at,text\n1,2026-03-04T09:00:00Z,hi\n")
    assert outline(list(read_mentions(path))) == [("ok", "1", "hi")]


def test_backtest_of_a_file_not_in_arrival_order(tmp_path: Path) -> None:
    """Newest first: replayed as it stands most mentions are too late; --order time sorts them."""
    lines = [
        jl(id=f"n{i}", created_at=f"2026-03-04T09:{50 - 10 * i:02d}:00Z", text="acme", stream="acme")
        for i in range(4)
    ]
    body = ("\n".join(lines) + "\n").encode()
    summary, _ = _backtest_stdin(tmp_path, body)
    assert summary["mentions"] == {"accepted": 1, "late": 3}
    summary, _ = _backtest_stdin(tmp_path, body, "--order", "time")
    assert summary["mentions"] == {"accepted": 4}
