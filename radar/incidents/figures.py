"""The figures a service director asks for after an incident, derived from what the store holds.

* **onset**: the first abnormal bucket: going back from the bucket that opened the incident, over at
  most the window that fired, the earliest of the unbroken run of buckets above what was expected;
* **time to detect**: onset → the first ``warning`` (crises only);
* **time to acknowledge**: that warning → the first acknowledgement;
* **time to resolve**: onset → resolution;
* **peak**: most mentions in one bucket, per minute and as a multiple of what that bucket expected;
  the highest negative share of a bucket with at least 5 mentions; totals while open;
* **top terms** and **most amplified posts**: from the why of the peak level.

The onset is kept on the incident when it opens (``onset_at``); older rows compute it from samples.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from radar.incidents.store import IncidentRow
from radar.sample import Sample, onset_of


@dataclass(frozen=True)
class Figures:
    """An incident's figures (times: epoch seconds; durations: seconds; None when not reached)."""

    onset: float
    detected: float | None
    acknowledged: float | None
    acknowledged_by: str | None
    resolved: float | None
    resolved_by: str | None
    time_to_detect: float | None
    time_to_acknowledge: float | None
    time_to_resolve: float | None
    peak_mentions: int
    peak_mentions_per_minute: float
    peak_multiple: float | None
    peak_negative_share: float
    total_mentions: int
    total_negative: int
    top_terms: list[dict[str, Any]] = field(default_factory=list)
    top_posts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return asdict(self)


def figures(row: IncidentRow, samples: Sequence[Sample]) -> Figures:
    """The figures of the incident ``row`` with its ``samples``."""
    why = dict(row.why or {})
    onset = row.onset_at
    if onset is None:
        onset = onset_of(samples, row.opened_at, int(why.get("window_minutes") or 1), row.bucket_seconds)
    detected, ack, resolved = row.detected_at, row.acknowledged_at, row.resolved_at
    per_minute = row.peak_mentions * 60.0 / row.bucket_seconds
    multiple = row.peak_mentions / row.peak_expected if row.peak_expected > 0 else None
    return Figures(
        onset=onset,
        detected=detected,
        acknowledged=ack,
        acknowledged_by=row.acknowledged_by,
        resolved=resolved,
        resolved_by=row.resolved_by,
        time_to_detect=detected - onset if detected is not None else None,
        time_to_acknowledge=ack - detected if ack is not None and detected is not None else None,
        time_to_resolve=resolved - onset if resolved is not None else None,
        peak_mentions=row.peak_mentions,
        peak_mentions_per_minute=round(per_minute, 2),
        peak_multiple=round(multiple, 2) if multiple is not None else None,
        peak_negative_share=round(row.peak_negative_share, 4),
        total_mentions=row.total_mentions,
        total_negative=row.total_negative,
        top_terms=list(why.get("top_terms") or [])[:10],
        top_posts=list(why.get("top_posts") or [])[:5],
    )


def median(values: Sequence[float | None]) -> float | None:
    """The median of the values that are known (None when none is)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def duration(seconds: float | None) -> str:
    """``1 h 05 min``, ``12 min``, ``45 s``; ``—`` when unknown.

    >>> duration(3900), duration(720), duration(45), duration(None)
    ('1 h 05 min', '12 min', '45 s', '—')
    """
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        days, hours = divmod(hours, 24)
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min"
