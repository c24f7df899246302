"""Listening-platform webhooks: a field mapping turns a platform's payload into mentions, no glue code.

A ``[webhooks.NAME]`` table of the configuration says where the records are in the pushed JSON
(``records``: a dotted path to the list; empty when the body is the list or one record) and, under
``fields``, where each mention field is in a record (dotted paths, e.g. ``author.followers``). Dates
may be ISO 8601 or epoch seconds or milliseconds; ``sentiment`` may be a number on the platform's
scale (``sentiment_scale``: the value that means "most positive") or a label (``sentiment_labels``).
The result goes through the same validation as ``POST /v1/mentions``: a bad record is rejected with
a reason naming the field and the rest of the push goes in.

>>> from radar.config import WebhookSettings
>>> mapping = WebhookSettings.model_validate({"records": "results", "fields": {
...     "id": "resourceId", "created_at": "date", "text": "fullText", "author": "author",
...     "author_followers": "authorFollowers", "sentiment": "sentiment"},
...     "sentiment_labels": {"negative": -0.6, "neutral": 0.0, "positive": 0.6}})
>>> body = {"results": [{"resourceId": 7, "date": "2026-03-04T09:15:02.000+0000", "fullText": "awful",
...          "author": "someone", "authorFollowers": 1200, "sentiment": "negative"}]}
>>> [(m["id"], m["created_at"], m["sentiment"]) for m in map(lambda r: map_record(r, mapping),
...                                                          records_of(body, mapping))]
[('7', '2026-03-04T09:15:02.000+00:00', -0.6)]
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from radar.config import WebhookSettings

_MISSING = object()
_OFFSET = re.compile(r"([+-])(\d\d)(\d\d)$")


def lookup(record: Any, path: str) -> Any:
    """The value at dotted ``path`` in ``record`` (list indexes allowed: ``media.0.url``); a sentinel
    when absent."""
    value = record
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def records_of(body: Any, mapping: WebhookSettings) -> list[Any]:
    """The records of a pushed body (one record when it is a single object)."""
    found = lookup(body, mapping.records) if mapping.records else body
    if found is _MISSING:
        raise ValueError(f"records: no {mapping.records!r} in the body")
    if isinstance(found, list):
        return found
    if isinstance(found, dict):
        return [found]
    raise ValueError(
        f"records: {mapping.records or 'the body'} is {type(found).__name__}, not a list or object"
    )


def _date(value: Any) -> Any:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000.0 if value > 1e11 else float(value)  # epoch milliseconds or seconds
            return datetime.fromtimestamp(seconds, UTC).isoformat()
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return _date(int(text))
            return _OFFSET.sub(r"\1\2:\3", text)  # +0000 → +00:00 (what Brandwatch writes)
    except (ValueError, OverflowError, OSError):  # no time the radar can place (epoch µs, year 58886)
        return str(value)  # validation rejects the record as a bad timestamp, naming created_at
    return value


def _sentiment(value: Any, mapping: WebhookSettings) -> Any:
    if isinstance(value, str) and mapping.sentiment_labels:
        label = value.strip().lower()
        if label in mapping.sentiment_labels:
            return mapping.sentiment_labels[label]
        return None  # an unknown label: the radar scores the text itself
    if isinstance(value, int | float) and not isinstance(value, bool) and mapping.sentiment_scale:
        return max(-1.0, min(1.0, value / mapping.sentiment_scale))
    return value


def map_record(record: Any, mapping: WebhookSettings) -> dict[str, Any]:
    """One platform record as a mention record (not validated yet: see ``parse_record``)."""
    if not isinstance(record, dict):
        return {"__not_an_object__": record}  # validation names the problem
    out: dict[str, Any] = {}
    for field, path in mapping.fields.items():
        value = lookup(record, path)
        if value is _MISSING or value is None:
            continue
        if field == "created_at":
            value = _date(value)
        elif field == "sentiment":
            value = _sentiment(value, mapping)
            if value is None:
                continue
        elif field == "id":
            value = f"{mapping.id_prefix}{value}" if mapping.id_prefix else str(value)
        out[field] = value
    for field, value in mapping.constants.items():
        out.setdefault(field, value)
    return out
