"""Quiet hours: a daily span of local time during which warnings wait (a crisis never does).

>>> from datetime import UTC, datetime
>>> night = QuietHours("22:00-07:00", "Europe/Paris")
>>> night.ends(datetime(2026, 3, 4, 22, 30, tzinfo=UTC))  # 23:30 in Paris
datetime.datetime(2026, 3, 5, 6, 0, tzinfo=datetime.timezone.utc)
>>> night.ends(datetime(2026, 3, 4, 12, 0, tzinfo=UTC)) is None
True
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


class QuietHours:
    """``HH:MM-HH:MM`` in time zone ``tz`` (it may span midnight); an empty span is never quiet."""

    def __init__(self, span: str = "", tz: str = "UTC") -> None:
        self.zone = ZoneInfo(tz)
        self.span = span
        if span:
            start, _, end = span.partition("-")
            self.start, self.end = time.fromisoformat(start), time.fromisoformat(end)

    def ends(self, now: datetime) -> datetime | None:
        """When the quiet hours running at ``now`` end (UTC); None when ``now`` is not quiet."""
        if not self.span:
            return None
        local = now.astimezone(self.zone)
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            inside = self.start <= clock < self.end
            end_day = local.date()
        else:  # spans midnight
            inside = clock >= self.start or clock < self.end
            end_day = local.date() + timedelta(days=1) if clock >= self.start else local.date()
        if not inside:
            return None
        end = datetime.combine(end_day, self.end, tzinfo=self.zone)
        return end.astimezone(UTC)
