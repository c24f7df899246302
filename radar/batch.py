"""Batches of raw records: decoding, validation, and per-record rejections.

One bad record never spoils its batch: each record becomes either a :class:`~radar.mention.Mention`
or a :class:`Rejection` naming its index, a bounded ``reason`` (a metric label) and a message
for people. Used by the ingest API (JSON array or NDJSON bodies) and the file sources.

>>> from datetime import UTC, datetime
>>> body = b'{"id": "1", "created_at": "2026-03-04T09:15:02Z", "text": "ok"}\\n{"id": "2"}\\n{oops\\n'
>>> result = decode_body(body, "application/x-ndjson", now=datetime(2026, 3, 4, tzinfo=UTC))
>>> [m.id for m in result.mentions], [(r.index, r.reason) for r in result.rejected]
(['1'], [(1, 'missing_field'), (2, 'malformed_json')])
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from radar.mention import Mention, MentionError, parse_mention, parse_mention_json

#: The UTF-8 byte-order mark some editors and exports put in front of a file or body.
BOM = b"\xef\xbb\xbf"
#: A JSON escape of a UTF-16 surrogate (valid JSON, but a lone one is not text).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that was not accepted: where it was, why (bounded label), and a message."""

    index: int
    reason: str
    error: str

    def to_json(self) -> dict[str, Any]:
        """``{"index", "reason", "error"}``."""
        return {"index": self.index, "reason": self.reason, "error": self.error}


@dataclass
class BatchResult:
    """The valid mentions of a batch, and its rejected records."""

    mentions: list[Mention] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class BatchTooLarge(ValueError):
    """A batch with more records than allowed (HTTP 413)."""


def parse_record(
    raw: Any, index: int, now: datetime | None, *, check_text: bool = True
) -> Mention | Rejection:
    """Validate one decoded record; a :class:`Rejection` instead of raising.

    ``check_text=False`` skips the scan for lone surrogates (text that cannot be UTF-8), for
    callers that know the record's source text holds none.
    """
    try:
        if check_text and _has_surrogates(raw):
            return Rejection(index, "invalid_utf8", "record: not valid UTF-8 (lone surrogate)")
        return parse_mention(raw, now)
    except MentionError as exc:
        return Rejection(index, exc.reason, str(exc))


def parse_line(line: bytes | str, index: int, now: datetime | None) -> Mention | Rejection:
    """Decode and validate one JSON line (JSONL files, NDJSON bodies)."""
    fast = parse_mention_json(line, now)  # one pass in pydantic-core: the common case, 4x faster
    if fast is not None:
        return fast
    # the slow path names the problem: bytes, JSON syntax, then fields
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Rejection(index, "invalid_utf8", f"record: not valid UTF-8 (byte {exc.start})")
    line = line.rstrip("\r\n")  # file lines keep their end; it would move the error's position
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        return Rejection(index, "malformed_json", f"record: malformed JSON: {exc.msg} at column {exc.colno}")
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        return Rejection(index, "malformed_json", f"record: malformed JSON: {exc}")
    except RecursionError:
        return Rejection(index, "malformed_json", "record: malformed JSON: nested too deeply")
    # strictly decoded UTF-8 holds no surrogates; only a JSON escape like \\ud800 can make one
    return parse_record(raw, index, now, check_text=_SURROGATE_ESCAPE.search(line) is not None)


def decode_body(
    body: bytes, content_type: str, now: datetime | None, *, max_records: int = 10_000
) -> BatchResult:
    """Decode an ingest request body: a JSON array (or one object), or NDJSON.

    ``application/json`` bodies are parsed as one document (a malformed document raises
    :class:`ValueError`: there are no records to speak of); any other type, and bodies that do not
    start with ``[`` or ``{``, are read as NDJSON, one record per non-blank line. More than
    ``max_records`` records raises :class:`BatchTooLarge`.
    """
    if body.startswith(BOM):
        body = body[len(BOM) :]  # a byte-order mark is not part of the first record
    kind = content_type.split(";", 1)[0].strip().lower()
    head = body.lstrip()[:1]
    if kind == "application/json" or (
        kind not in {"application/x-ndjson", "application/jsonl"} and head == b"["
    ):
        return _decode_document(body, now, max_records)
    lines = [line for line in body.split(b"\n") if line.strip()]
    if len(lines) > max_records:
        raise BatchTooLarge(f"{len(lines)} records in one batch; the limit is {max_records}")
    result = BatchResult()
    for i, line in enumerate(lines):
        _put(result, parse_line(line, i, now))
    return result


def load_document(text: str) -> Any:
    """One JSON document; :class:`ValueError` naming what is wrong with it."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"body: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise ValueError(f"body: malformed JSON: {exc}") from None
    except RecursionError:
        raise ValueError("body: malformed JSON: nested too deeply") from None


def _decode_document(body: bytes, now: datetime | None, max_records: int) -> BatchResult:
    text = body.decode("utf-8", errors="surrogateescape")  # bad bytes fail only their record
    doc = load_document(text)
    records = doc if isinstance(doc, list) else [doc]
    check = _SURROGATE_ESCAPE.search(text) is not None or not _is_utf8(text)
    if len(records) > max_records:
        raise BatchTooLarge(f"{len(records)} records in one batch; the limit is {max_records}")
    result = BatchResult()
    for i, raw in enumerate(records):
        _put(result, parse_record(raw, i, now, check_text=check))
    return result


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _put(result: BatchResult, record: Mention | Rejection) -> None:
    if isinstance(record, Rejection):
        result.rejected.append(record)
    else:
        result.mentions.append(record)


def _has_surrogates(value: Any) -> bool:
    """True if a decoded value holds lone surrogates (bytes that were not UTF-8)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_surrogates(k) or _has_surrogates(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogates(v) for v in value)
    return False
