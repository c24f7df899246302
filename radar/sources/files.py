"""Mention files for replays, backtests and warm-ups: JSONL, CSV (optionally gzipped) and stdin.

:func:`read_mentions` yields, in file order, a :class:`~radar.mention.Mention` or a
:class:`~radar.batch.Rejection` per record, so a bad line is reported and the rest goes on.
A rejection's ``index`` counts records; its ``error`` starts with the file line (``line 7: ...``).

CSV files map columns by name: the mention fields of DESIGN §3 (``id``, ``created_at``, ``text``,
``author``, ...), or a named preset:

``airline``
    The Twitter US Airline Sentiment export: ``tweet_id`` -> ``id``, ``tweet_created``
    (``2015-02-24 11:35:52 -0800``) -> ``created_at``, ``name`` -> ``author``,
    ``retweet_count`` -> ``reshares``, ``airline`` -> ``stream`` (``Virgin America`` ->
    ``virgin-america``). Its hand-labelled sentiment is *not* used: the radar scores texts itself.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from radar.batch import BOM, Rejection, parse_line, parse_record
from radar.mention import Mention

Record = Mention | Rejection
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)

_INT_FIELDS = ("author_followers", "reshares", "likes")


def _airline(row: dict[str, str]) -> dict[str, Any]:
    created = (row.get("tweet_created") or "").strip()
    try:
        created_at: Any = datetime.strptime(created, "%Y-%m-%d %H:%M:%S %z").isoformat()
    except ValueError:
        created_at = created  # validation names it
    airline = (row.get("airline") or "").strip()
    return {
        "id": (row.get("tweet_id") or "").strip(),
        "created_at": created_at,
        "text": row.get("text") or "",
        "author": row.get("name") or "",
        "reshares": _int(row.get("retweet_count")),
        "source": "twitter",
        "stream": re.sub(r"[^a-z0-9]+", "-", airline.lower()).strip("-") or None,
    }


def _generic(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
    for name in _INT_FIELDS:
        if name in out:
            out[name] = _int(out[name])
    if "sentiment" in out:
        try:
            out["sentiment"] = float(out["sentiment"])
        except ValueError:
            pass  # validation names it
    return out


def _int(value: str | None) -> Any:
    if value is None or not value.strip():
        return None
    try:
        return int(float(value))
    except ValueError:
        return value  # validation names it


PRESETS: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {"airline": _airline}


def _open(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _is_csv(path: str, preset: str | None) -> bool:
    return preset is not None or path.removesuffix(".gz").lower().endswith(".csv")


def read_mentions(
    path: str | Path, *, preset: str | None = None, now: datetime | None = None
) -> Iterator[Record]:
    """Records of a JSONL or CSV file (``-``: JSONL on stdin); see the module doc.

    ``now`` bounds future timestamps (``None``: no bound, for history files).
    """
    name = str(path)
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown CSV preset {preset!r}; known: {', '.join(PRESETS)}")
    fh = _open(name)
    try:
        if _is_csv(name, preset):
            yield from _read_csv(fh, PRESETS[preset] if preset else _generic, now)
        else:
            index = 0
            for lineno, line in enumerate(fh, 1):
                if lineno == 1 and line.startswith(BOM):
                    line = line[len(BOM) :]  # an editor's byte-order mark, not part of the first record
                if not line.strip():
                    continue
                record = parse_line(line, index, now)
                yield _at_line(record, lineno) if isinstance(record, Rejection) else record
                index += 1
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def in_time_order(records: Iterable[Record]) -> list[Record]:
    """The records sorted by ``created_at`` (stable; rejections first): for exports that are not
    in arrival order, such as the airline file (sorted by airline, newest first). Holds the file
    in memory."""
    return sorted(records, key=lambda r: r.created_at if isinstance(r, Mention) else _EPOCH)


def _at_line(rejection: Rejection, lineno: int) -> Rejection:
    """The rejection with the file line it came from in front of its error."""
    return Rejection(rejection.index, rejection.reason, f"line {lineno}: {rejection.error}")


def _read_csv(
    fh: IO[bytes], convert: Callable[[dict[str, str]], dict[str, Any]], now: datetime | None
) -> Iterator[Record]:
    # utf-8-sig: spreadsheet exports start with a byte-order mark that would rename the first column
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(text)
    end = 1  # the header's last line
    for index, row in enumerate(reader):
        start, end = end + 1, reader.line_num  # a quoted cell may hold line breaks
        if None in row:  # more cells than header columns
            yield Rejection(index, "malformed_csv", f"line {start}: more cells than columns")
            continue
        record = parse_record(convert(row), index, now)
        yield _at_line(record, start) if isinstance(record, Rejection) else record
    text.detach()
