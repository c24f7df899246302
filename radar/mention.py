"""The mention: one social-media post about a brand or topic (DESIGN §3).

A mention is validated once, at the edge, and is immutable afterwards. Validation needs the
current time (timestamps more than a day ahead are refused), so :func:`parse_mention` takes
``now``; nothing in here reads the clock.

>>> from datetime import UTC, datetime
>>> m = parse_mention({"id": "tw-1", "created_at": "2026-03-04T09:15:02Z", "text": "hi @acme"},
...                   now=datetime(2026, 3, 4, 10, tzinfo=UTC))
>>> m.id, m.created_at.isoformat(), m.streams
('tw-1', '2026-03-04T09:15:02+00:00', ())
>>> parse_mention({"id": "x", "created_at": "2026-03-04 09:15", "text": "t"}, now=datetime.now(UTC))
Traceback (most recent call last):
...
radar.mention.MentionError: created_at: timestamp has no time zone: '2026-03-04 09:15' (add Z or +00:00)
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from radar.config import STREAM_NAME

MAX_TEXT_CHARS = 10_000
MAX_ID_CHARS = 512
MAX_STREAM_CHARS = 64
MAX_FUTURE = timedelta(days=1)


class MentionError(ValueError):
    """A record that is not a valid mention.

    ``reason`` is a short, bounded label (used as a metric label); ``field`` names the
    offending field, or is empty when the whole record is wrong.
    """

    def __init__(self, reason: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


class Mention(BaseModel):
    """A validated mention. ``created_at`` is always timezone-aware UTC.

    ``stream`` on the wire (a string or a list) becomes the tuple ``streams``; unknown fields
    are kept (``model_extra``) and ignored.
    """

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    created_at: datetime
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    source: str = Field(default="", max_length=2048)
    author: str = Field(default="", max_length=2048)
    author_followers: int = Field(default=0, ge=0)
    reshares: int = Field(default=0, ge=0)
    likes: int = Field(default=0, ge=0)
    lang: str = Field(default="", max_length=64)
    url: str = Field(default="", max_length=2048)
    streams: tuple[str, ...] = Field(default=(), alias="stream")
    sentiment: float | None = Field(default=None, ge=-1.0, le=1.0, allow_inf_nan=False)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # platforms that emit numeric ids
        if isinstance(value, str):
            return value.strip()
        return value

    @field_validator("text", mode="before")
    @classmethod
    def _nonblank_text(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return ""  # fails min_length: "must not be empty"
        return value

    @field_validator("source", "author", "lang", "url", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("author_followers", "reshares", "likes", mode="before")
    @classmethod
    def _none_is_zero(cls, value: Any) -> Any:
        return 0 if value is None else value

    @field_validator("created_at", mode="before")
    @classmethod
    def _aware_timestamp(cls, value: Any, info: ValidationInfo) -> datetime:
        parsed = parse_timestamp(value)
        now = (info.context or {}).get("now")
        if now is not None and parsed - now > MAX_FUTURE:
            raise PydanticCustomError(
                "future_timestamp", "{ts} is more than a day in the future", {"ts": parsed.isoformat()}
            )
        return parsed

    @field_validator("streams", mode="before")
    @classmethod
    def _stream_names(cls, value: Any, info: ValidationInfo) -> tuple[str, ...]:
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(s, str) for s in items):
            raise PydanticCustomError("wrong_type", "expected a string or a list of strings")
        if (info.context or {}).get("accepted"):  # journaled by an earlier release: as it was taken
            return tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
        # stream names are case-insensitive ("Acme" is the configured "acme"), and become metric
        # labels and URLs: the same rule as the configuration's (radar.config.STREAM_NAME)
        names = tuple(dict.fromkeys(s.strip().lower() for s in items if s.strip()))
        for name in names:
            if len(name) > MAX_STREAM_CHARS:
                raise PydanticCustomError(
                    "too_long", "stream name longer than {n} characters", {"n": MAX_STREAM_CHARS}
                )
            if not STREAM_NAME.match(name):
                raise PydanticCustomError(
                    "bad_stream",
                    "stream name '{name}': use lower-case letters, digits, '-' or '_', starting with a"
                    " letter or digit",
                    {"name": name},
                )
        return names

    @property
    def amplification(self) -> float:
        """How far the post travelled: each reshare weighs like a small audience."""
        return self.author_followers + 50.0 * self.reshares + 5.0 * self.likes

    def with_streams(self, streams: tuple[str, ...]) -> Mention:
        """A copy assigned to ``streams`` (used by the matcher)."""
        return self.model_copy(update={"streams": streams})

    def to_json(self) -> dict[str, Any]:
        """The mention in the wire format of DESIGN §3 (unknown fields kept)."""
        out: dict[str, Any] = dict(self.model_extra or {})
        out["id"] = self.id
        out["created_at"] = format_timestamp(self.created_at)
        out["text"] = self.text
        for name in ("source", "author", "lang", "url", "author_followers", "reshares", "likes"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.streams:
            out["stream"] = list(self.streams) if len(self.streams) > 1 else self.streams[0]
        if self.sentiment is not None:
            out["sentiment"] = self.sentiment
        return out


def format_timestamp(ts: datetime) -> str:
    """UTC ISO 8601 with a ``Z``; microseconds only when present."""
    ts = ts.astimezone(UTC)
    if ts.microsecond:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: Any) -> datetime:
    """An ISO 8601 timestamp with a zone, as aware UTC; a pydantic error otherwise."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise PydanticCustomError("bad_timestamp", "timestamp has no time zone")
        return _to_utc(value, str(value))
    if not isinstance(value, str):
        raise PydanticCustomError("wrong_type", f"expected an ISO 8601 string, got {_kind(value)}")
    text = value.strip()
    if not text:
        raise PydanticCustomError("missing_field", "must not be empty")
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise PydanticCustomError("bad_timestamp", f"not an ISO 8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError(
            "bad_timestamp", f"timestamp has no time zone: {value[:40]!r} (add Z or +00:00)"
        )
    return _to_utc(parsed, value)


def _to_utc(ts: datetime, shown: str) -> datetime:
    try:
        return ts.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past the calendar's ends
        raise PydanticCustomError("bad_timestamp", f"timestamp out of range: {shown[:40]!r}") from None


#: pydantic error types folded into the bounded set of reject reasons.
_REASONS = {
    "missing": "missing_field",
    "string_too_short": "missing_field",
    "missing_field": "missing_field",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "bad_timestamp": "bad_timestamp",
    "future_timestamp": "future_timestamp",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "finite_number": "out_of_range",
    "bad_stream": "bad_stream",
}


def parse_mention(raw: Any, now: datetime | None, *, accepted: bool = False) -> Mention:
    """Validate one decoded JSON record as a :class:`Mention`.

    Raises :class:`MentionError` naming the first offending field. ``now`` bounds how far in
    the future ``created_at`` may be (pass ``None`` to skip that check, e.g. for backtests).
    ``accepted``: a record the radar took before (its journal), whose stream names stay as they
    were taken (an earlier release took any name, as written), so a replay loses none of them.
    """
    if not isinstance(raw, dict):
        raise MentionError("wrong_type", f"record: expected a JSON object, got {_kind(raw)}")
    try:
        return Mention.model_validate(raw, context={"now": now, "accepted": accepted})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"]) or "record"
        kind = err["type"]
        reason = _REASONS.get(kind, "wrong_type")
        message = err["msg"]
        if kind == "missing":
            message = "required field is missing"
        elif kind == "string_too_short":
            message = "must not be empty"
        elif kind == "string_too_long":
            message = f"{len(str(raw.get(field, '')))} characters, the limit is {err['ctx']['max_length']}"
        elif kind.endswith(("_type", "_parsing")) and kind != "wrong_type":
            message = f"{err['msg'].lower()}, got {_kind(raw.get(field))}"
        raise MentionError(reason, f"{field}: {message}", field) from None


def parse_mention_json(data: bytes | str, now: datetime | None) -> Mention | None:
    """Parse and validate one JSON text as a mention in one pass; ``None`` if it is not a valid one.

    The fast path for files and ingest bodies: on ``None``, decode the text and call
    :func:`parse_mention` to learn what is wrong with it.
    """
    try:
        return Mention.model_validate_json(data, context={"now": now})
    except ValidationError:
        return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "a non-finite number"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}
    return names.get(type(value), "an object" if isinstance(value, dict) else type(value).__name__)
