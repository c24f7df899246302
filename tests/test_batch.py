"""Batches with bad records: each bad one is rejected with its index and a reason naming the field,
the good ones around it go in (DESIGN §3, README "Mentions").

Exercises :func:`radar.batch.decode_body` (NDJSON and JSON-array bodies) directly, and
:class:`radar.service.RadarService` for duplicate ids, which are counted once downstream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radar.batch import BatchResult, BatchTooLarge, Rejection, decode_body
from radar.clock import ManualClock
from radar.config import RadarConfig
from radar.mention import MAX_TEXT_CHARS
from radar.service import RadarService

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)
NDJSON = "application/x-ndjson"
JSON = "application/json"


def good(i: int, **extra: Any) -> dict[str, Any]:
    at = NOW - timedelta(hours=1) + timedelta(seconds=i)
    return {"id": f"g{i}", "created_at": at.isoformat().replace("+00:00", "Z"), "text": f"post {i}", **extra}


def without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}


def line(record: Any) -> bytes:
    return json.dumps(record).encode() + b"\n"


def ndjson(*lines: bytes) -> bytes:
    return b"".join(x if x.endswith(b"\n") else x + b"\n" for x in lines)


def summary(result: BatchResult) -> tuple[list[str], list[tuple[int, str, str]]]:
    return [m.id for m in result.mentions], [(r.index, r.reason, r.error) for r in result.rejected]


# Each case: a bad record (a JSON value), the reason label and the exact message (it names the field).
BAD_RECORDS: list[tuple[str, Any, str, str]] = [
    ("missing id", without(good(1), "id"), "missing_field", "id: required field is missing"),
    ("empty id", good(1, id=""), "missing_field", "id: must not be empty"),
    ("blank id", good(1, id="   "), "missing_field", "id: must not be empty"),
    ("missing text", without(good(1), "text"), "missing_field", "text: required field is missing"),
    ("empty text", good(1, text=""), "missing_field", "text: must not be empty"),
    ("blank text", good(1, text=" \t "), "missing_field", "text: must not be empty"),
    (
        "missing created_at",
        without(good(1), "created_at"),
        "missing_field",
        "created_at: required field is missing",
    ),
    (
        "unparseable created_at",
        good(1, created_at="yesterday"),
        "bad_timestamp",
        "created_at: not an ISO 8601 timestamp: 'yesterday'",
    ),
    (
        "zone-less created_at",
        good(1, created_at="2026-03-04T09:15:00"),
        "bad_timestamp",
        "created_at: timestamp has no time zone: '2026-03-04T09:15:00' (add Z or +00:00)",
    ),
    (
        "zone-less created_at with a space",
        good(1, created_at="2026-03-04 09:15"),
        "bad_timestamp",
        "created_at: timestamp has no time zone: '2026-03-04 09:15' (add Z or +00:00)",
    ),
    (
        "created_at more than a day ahead",
        good(1, created_at="2026-03-05T12:00:01Z"),
        "future_timestamp",
        "created_at: 2026-03-05T12:00:01+00:00 is more than a day in the future",
    ),
    (
        "created_at a day ahead in another zone",
        good(1, created_at="2026-03-05T14:00:01+02:00"),
        "future_timestamp",
        "created_at: 2026-03-05T12:00:01+00:00 is more than a day in the future",
    ),
    (
        "created_at as a number",
        good(1, created_at=1772614800),
        "wrong_type",
        "created_at: expected an ISO 8601 string, got a number",
    ),
    (
        "text over the limit",
        good(1, text="x" * (MAX_TEXT_CHARS + 1)),
        "too_long",
        "text: 10001 characters, the limit is 10000",
    ),
    (
        "id as a list",
        good(1, id=["g1"]),
        "wrong_type",
        "id: input should be a valid string, got a list",
    ),
    ("id as a boolean", good(1, id=True), "wrong_type", "id: input should be a valid string, got a boolean"),
    ("id as a float", good(1, id=1.5), "wrong_type", "id: input should be a valid string, got a number"),
    (
        "text as a number",
        good(1, text=42),
        "wrong_type",
        "text: input should be a valid string, got a number",
    ),
    (
        "sentiment as a word",
        good(1, sentiment="bad"),
        "wrong_type",
        "sentiment: input should be a valid number, unable to parse string as a number, got a string",
    ),
    (
        "sentiment out of range",
        good(1, sentiment=1.5),
        "out_of_range",
        "sentiment: Input should be less than or equal to 1",
    ),
    (
        "negative followers",
        good(1, author_followers=-1),
        "out_of_range",
        "author_followers: Input should be greater than or equal to 0",
    ),
    (
        "followers as a word",
        good(1, author_followers="many"),
        "wrong_type",
        "author_followers: input should be a valid integer, unable to parse string as an integer, "
        "got a string",
    ),
    (
        "fractional reshares",
        good(1, reshares=2.5),
        "wrong_type",
        "reshares: Input should be a valid integer, got a number with a fractional part",
    ),
    (
        "stream as a number",
        good(1, stream=5),
        "wrong_type",
        "stream: expected a string or a list of strings",
    ),
    (
        "stream list with a number",
        good(1, stream=["acme", 5]),
        "wrong_type",
        "stream: expected a string or a list of strings",
    ),
    (
        "stream name too long",
        good(1, stream="s" * 65),
        "too_long",
        "stream: stream name longer than 64 characters",
    ),
    (
        "stream name with a space",
        good(1, stream="Acme Air"),
        "bad_stream",
        "stream: stream name 'acme air': use lower-case letters, digits, '-' or '_', starting with a letter"
        " or digit",
    ),
    (
        "stream name of punctuation",
        good(1, stream=["acme", "-/"]),
        "bad_stream",
        "stream: stream name '-/': use lower-case letters, digits, '-' or '_', starting with a letter"
        " or digit",
    ),
    ("record is a list", [good(1)], "wrong_type", "record: expected a JSON object, got a list"),
    ("record is a string", "g1", "wrong_type", "record: expected a JSON object, got a string"),
    ("record is null", None, "wrong_type", "record: expected a JSON object, got null"),
]


@pytest.mark.parametrize(
    ("bad", "reason", "error"), [c[1:] for c in BAD_RECORDS], ids=[c[0] for c in BAD_RECORDS]
)
def test_bad_record_in_ndjson_is_rejected_alone(bad: Any, reason: str, error: str) -> None:
    body = ndjson(line(good(0)), line(bad), line(good(2)))
    result = decode_body(body, NDJSON, now=NOW)
    assert summary(result) == (["g0", "g2"], [(1, reason, error)])


@pytest.mark.parametrize(
    ("bad", "reason", "error"), [c[1:] for c in BAD_RECORDS], ids=[c[0] for c in BAD_RECORDS]
)
def test_bad_record_in_json_array_is_rejected_alone(bad: Any, reason: str, error: str) -> None:
    body = json.dumps([good(0), bad, good(2)]).encode()
    result = decode_body(body, JSON, now=NOW)
    assert summary(result) == (["g0", "g2"], [(1, reason, error)])


def test_malformed_json_line_names_the_problem_and_column() -> None:
    body = ndjson(line(good(0)), b'{"id": "b", "created_at": ', b"{oops}", line(good(3)))
    result = decode_body(body, NDJSON, now=NOW)
    assert summary(result) == (
        ["g0", "g3"],
        [
            (1, "malformed_json", "record: malformed JSON: Expecting value at column 27"),
            (
                2,
                "malformed_json",
                "record: malformed JSON: Expecting property name enclosed in double quotes at column 2",
            ),
        ],
    )


def test_invalid_utf8_bytes_fail_only_their_record() -> None:
    bad = b'{"id": "b", "created_at": "2026-03-04T09:00:00Z", "text": "caf\xe9 \xff"}'
    result = decode_body(ndjson(line(good(0)), bad, line(good(2))), NDJSON, now=NOW)
    assert bad.index(b"\xe9") == 62  # the first byte that is not UTF-8
    assert summary(result) == (["g0", "g2"], [(1, "invalid_utf8", "record: not valid UTF-8 (byte 62)")])
    # the same bytes inside a JSON array: the document still parses, only that record fails
    array = b"[" + json.dumps(good(0)).encode() + b"," + bad + b"," + json.dumps(good(2)).encode() + b"]"
    result = decode_body(array, JSON, now=NOW)
    assert summary(result) == (
        ["g0", "g2"],
        [(1, "invalid_utf8", "record: not valid UTF-8 (lone surrogate)")],
    )


@pytest.mark.parametrize("content_type", [NDJSON, JSON])
def test_lone_surrogate_escape_is_not_text_but_a_pair_is(content_type: str) -> None:
    lone = good(1, text="broken \ud800 text")  # json.dumps writes it as the escape \\ud800
    pair = good(2, text="smile \U0001f600")  # written as the escape pair \\ud83d\\ude00
    if content_type == NDJSON:
        body = ndjson(line(good(0)), line(lone), line(pair))
    else:
        body = json.dumps([good(0), lone, pair]).encode()
    assert b"\\ud800" in body and b"\\ud83d\\ude00" in body
    result = decode_body(body, content_type, now=NOW)
    assert summary(result) == (
        ["g0", "g2"],
        [(1, "invalid_utf8", "record: not valid UTF-8 (lone surrogate)")],
    )
    assert result.mentions[1].text == "smile \U0001f600"


def test_limits_are_inclusive() -> None:
    edge = [
        good(0, text="y" * MAX_TEXT_CHARS),
        good(1, created_at="2026-03-05T12:00:00Z"),  # exactly one day ahead
        good(2, sentiment=-1.0, author_followers=0),
        good(3, sentiment=1),
    ]
    result = decode_body(json.dumps(edge).encode(), JSON, now=NOW)
    assert summary(result) == (["g0", "g1", "g2", "g3"], [])
    assert len(result.mentions[0].text) == MAX_TEXT_CHARS
    assert [m.sentiment for m in result.mentions] == [None, None, -1.0, 1.0]


def test_future_bound_is_relative_to_the_injected_now() -> None:
    record = good(1, created_at="2030-01-01T00:00:00Z")
    body = ndjson(line(record))
    assert summary(decode_body(body, NDJSON, now=NOW))[1] == [
        (0, "future_timestamp", "created_at: 2030-01-01T00:00:00+00:00 is more than a day in the future")
    ]
    later = datetime(2029, 12, 31, 1, tzinfo=UTC)
    assert summary(decode_body(body, NDJSON, now=later)) == (["g1"], [])
    assert summary(decode_body(body, NDJSON, now=None)) == (["g1"], [])  # no bound (history files)


def test_good_records_are_parsed_to_their_values() -> None:
    record = good(
        0,
        id=570306133677760513,  # numeric ids (as platforms emit them) become strings
        created_at="2026-03-04T10:15:02.250+01:00",
        text="ACME lost my bag",
        author="someone",
        author_followers="1200",
        reshares=None,
        stream=["acme", " acme ", "other"],
        sentiment=-0.62,
        platform_score=7,
    )
    for content_type, body in [(NDJSON, line(record)), (JSON, json.dumps([record]).encode())]:
        (m,) = decode_body(body, content_type, now=NOW).mentions
        assert m.id == "570306133677760513"
        assert m.created_at == datetime(2026, 3, 4, 9, 15, 2, 250_000, tzinfo=UTC)
        assert (m.text, m.author, m.author_followers, m.reshares) == ("ACME lost my bag", "someone", 1200, 0)
        assert m.streams == ("acme", "other")
        assert m.sentiment == -0.62
        assert m.model_extra == {"platform_score": 7}  # unknown fields kept, ignored


def test_stream_names_are_case_insensitive() -> None:
    body = ndjson(line(good(0, stream="Acme")), line(good(1, stream=[" ACME ", "acme", "Nimbus"])))
    result = decode_body(body, NDJSON, now=NOW)
    assert [m.streams for m in result.mentions] == [("acme",), ("acme", "nimbus")]


def test_json_array_and_ndjson_bodies_give_the_same_batch() -> None:
    records = [good(0), good(1, text=""), good(2, stream="acme"), {"text": "no id"}, good(4)]
    expected = (
        ["g0", "g2", "g4"],
        [
            (1, "missing_field", "text: must not be empty"),
            (3, "missing_field", "id: required field is missing"),
        ],
    )
    array = json.dumps(records).encode()
    lines = ndjson(*(line(r) for r in records))
    assert summary(decode_body(array, JSON, now=NOW)) == expected
    assert summary(decode_body(array, "application/json; charset=utf-8", now=NOW)) == expected
    assert summary(decode_body(b"  \n" + array, "", now=NOW)) == expected  # no type: sniffed from '['
    assert summary(decode_body(lines, NDJSON, now=NOW)) == expected
    assert summary(decode_body(lines, "application/jsonl", now=NOW)) == expected
    assert summary(decode_body(lines, "text/plain", now=NOW)) == expected
    # blank lines and CRLF line ends do not count as records
    crlf = b"\r\n\r\n".join(json.dumps(r).encode() for r in records) + b"\r\n"
    assert summary(decode_body(crlf, NDJSON, now=NOW)) == expected


def test_a_single_object_is_a_batch_of_one() -> None:
    assert summary(decode_body(json.dumps(good(7)).encode(), JSON, now=NOW)) == (["g7"], [])


def test_empty_bodies() -> None:
    assert summary(decode_body(b"", NDJSON, now=NOW)) == ([], [])
    assert summary(decode_body(b"\n \n", NDJSON, now=NOW)) == ([], [])
    assert summary(decode_body(b"[]", JSON, now=NOW)) == ([], [])


def test_a_malformed_json_document_is_a_bad_body_not_a_bad_record() -> None:
    with pytest.raises(ValueError, match=r"^body: malformed JSON: .* at line 1 column \d+$") as info:
        decode_body(b'[{"id": "1", ', JSON, now=NOW)
    assert not isinstance(info.value, BatchTooLarge)


@pytest.mark.parametrize("content_type", [NDJSON, JSON])
def test_too_many_records(content_type: str) -> None:
    records = [good(i) for i in range(3)]
    body = ndjson(*(line(r) for r in records)) if content_type == NDJSON else json.dumps(records).encode()
    assert len(decode_body(body, content_type, now=NOW, max_records=3).mentions) == 3
    with pytest.raises(BatchTooLarge, match=r"^3 records in one batch; the limit is 2$"):
        decode_body(body, content_type, now=NOW, max_records=2)


def test_rejection_to_json() -> None:
    assert Rejection(3, "missing_field", "id: required field is missing").to_json() == {
        "index": 3,
        "reason": "missing_field",
        "error": "id: required field is missing",
    }


# -- duplicates: decode_body keeps both, the radar counts the id once ---------------------------------
@pytest.fixture
def service(tmp_path: Path) -> Iterator[RadarService]:
    config = RadarConfig.model_validate({"streams": {"acme": {"keywords": ["acme"]}}})
    svc = RadarService(
        config, state_dir=tmp_path, notifiers=[], clock=ManualClock(NOW), live=False, fsync=False
    )
    yield svc
    svc.stop()


def test_duplicate_ids_count_once(service: RadarService) -> None:
    records = [
        good(0, text="acme one"),
        good(1, text="acme two"),
        good(0, text="acme one again"),  # same id, other text: still the same mention
        good(2, text=""),
        good(3, text="acme three"),
    ]
    batch = decode_body(json.dumps(records).encode(), JSON, now=NOW)
    assert [m.id for m in batch.mentions] == ["g0", "g1", "g0", "g3"]  # the decoder does not de-duplicate
    report = service.submit(batch)
    assert report.to_json() == {
        "accepted": 4,
        "rejected": [{"index": 3, "reason": "missing_field", "error": "text: must not be empty"}],
        "duplicates": 1,
        "unmatched": 0,
    }
    assert report.outcomes == {"accepted": 3, "duplicate": 1}
    again = service.submit(
        decode_body(ndjson(line(good(1, text="acme two")), line(good(4, text="acme"))), NDJSON, now=NOW)
    )
    assert again.to_json()["duplicates"] == 1
    service.pipeline.finish()
    assert service.pipeline.streams["acme"].mentions_total == 4  # g0, g1, g3, g4


# -- one odd record does not take its whole batch down ---------------------------
@pytest.mark.parametrize("created_at", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00"])
@pytest.mark.parametrize("content_type", [NDJSON, JSON])
def test_out_of_range_timestamp_rejects_only_its_record(content_type: str, created_at: str) -> None:
    records = [good(0), good(1, created_at=created_at), good(2)]
    body = ndjson(*(line(r) for r in records)) if content_type == NDJSON else json.dumps(records).encode()
    result = decode_body(body, content_type, now=NOW)
    assert [m.id for m in result.mentions] == ["g0", "g2"]
    assert [(r.index, r.reason) for r in result.rejected] == [(1, "bad_timestamp")]


def test_huge_number_rejects_only_its_record() -> None:
    huge = b'{"id": "b", "created_at": "2026-03-04T09:00:00Z", "text": "t", "likes": ' + b"9" * 5000 + b"}"
    result = decode_body(ndjson(line(good(0)), huge, line(good(2))), NDJSON, now=NOW)
    assert [m.id for m in result.mentions] == ["g0", "g2"]
    assert [r.index for r in result.rejected] == [1]


def test_empty_created_at_is_a_missing_field() -> None:
    result = decode_body(ndjson(line(good(0, created_at=""))), NDJSON, now=NOW)
    assert [(r.index, r.reason) for r in result.rejected] == [(0, "missing_field")]


# -- properties of the decoder ------------------------------------------------------------------------
_ZONES = st.sampled_from(
    [
        UTC,
        *(timezone(timedelta(hours=h, minutes=m)) for h, m in [(-12, 0), (-8, 0), (1, 0), (5, 30), (14, 0)]),
    ]
)
_TIMESTAMPS = st.one_of(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=_ZONES).map(
        lambda d: d.isoformat()
    ),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(lambda d: d.isoformat()),
    st.text(max_size=30),
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def _field(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(plausible, _JSON)


_MENTIONISH = st.fixed_dictionaries(
    {},
    optional={
        "id": _field(st.text(min_size=0, max_size=12) | st.integers(min_value=0, max_value=10**20)),
        "created_at": _field(_TIMESTAMPS),
        "text": _field(
            st.text(max_size=40) | st.text(st.characters(categories=["Cs", "Ll", "Zs"]), max_size=8)
        ),
        "stream": _field(st.text(max_size=10) | st.lists(st.text(max_size=10), max_size=3)),
        "sentiment": _field(st.floats(min_value=-1.5, max_value=1.5, allow_nan=False)),
        "author_followers": _field(st.integers(min_value=-5, max_value=10**9)),
        "reshares": _field(st.integers(min_value=-5, max_value=100)),
        "source": _field(st.text(max_size=10)),
        "extra": _JSON,
    },
)
_RECORDS = st.lists(st.one_of(_MENTIONISH, _JSON), max_size=8)


#: README "Mentions": the reasons a single record can be rejected with (stream_limit comes later).
RECORD_REASONS = {
    "malformed_json",
    "missing_field",
    "bad_timestamp",
    "future_timestamp",
    "too_long",
    "invalid_utf8",
    "wrong_type",
    "out_of_range",
    "bad_stream",
}
FIELDS = {
    "record",
    "id",
    "created_at",
    "text",
    "stream",
    "sentiment",
    "author_followers",
    "reshares",
    "source",
}


def _check_invariants(result: BatchResult, n: int) -> None:
    indexes = [r.index for r in result.rejected]
    assert len(result.mentions) + len(result.rejected) == n
    assert len(set(indexes)) == len(indexes)
    assert all(0 <= i < n for i in indexes)
    assert indexes == sorted(indexes)
    assert {r.reason for r in result.rejected} <= RECORD_REASONS
    assert all(r.error.split(":", 1)[0] in FIELDS for r in result.rejected)  # it names the field


@settings(max_examples=150, deadline=None)
@given(records=_RECORDS)
def test_any_list_of_json_values_decodes_the_same_as_array_and_as_ndjson(records: list[Any]) -> None:
    array = decode_body(json.dumps(records).encode(), JSON, now=NOW)
    lines = decode_body(b"".join(line(r) for r in records), NDJSON, now=NOW)
    _check_invariants(array, len(records))
    _check_invariants(lines, len(records))
    # the NDJSON fast path (pydantic-core JSON) and the array path (Python objects) agree record by record
    assert [(r.index, r.reason, r.error) for r in lines.rejected] == [
        (r.index, r.reason, r.error) for r in array.rejected
    ]
    assert [m.model_dump() for m in lines.mentions] == [m.model_dump() for m in array.mentions]


_LINE = st.one_of(
    st.binary(max_size=40),
    _JSON.map(lambda v: json.dumps(v).encode()),
    _MENTIONISH.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
)


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(_LINE, max_size=6),
    content_type=st.sampled_from([NDJSON, "application/jsonl", "text/plain", "", JSON]),
)
def test_any_bytes_never_raise_beyond_a_bad_body(lines: list[bytes], content_type: str) -> None:
    body = b"\n".join(lines)
    document = content_type == JSON or (content_type in {"text/plain", ""} and body.lstrip()[:1] == b"[")
    try:
        result = decode_body(body, content_type, now=NOW)
    except ValueError as exc:  # allowed only for a JSON document that does not parse
        assert document, f"an NDJSON body raised {exc!r}; a bad line must only reject its record"
        assert not isinstance(exc, BatchTooLarge)
        assert str(exc).startswith("body: malformed JSON: ")
        return
    if document:
        doc = json.loads(body.decode("utf-8", "surrogateescape"))
        n = len(doc) if isinstance(doc, list) else 1
    else:
        n = len([x for x in body.split(b"\n") if x.strip()])
    _check_invariants(result, n)


@pytest.mark.parametrize("content_type", [NDJSON, JSON])
def test_a_byte_order_mark_does_not_cost_the_first_record(content_type: str) -> None:
    records = [good(0), good(1)]
    body = (
        ndjson(line(records[0]), line(records[1])) if content_type == NDJSON else json.dumps(records).encode()
    )
    result = decode_body(b"\xef\xbb\xbf" + body, content_type, now=NOW)
    assert summary(result) == (["g0", "g1"], [])
