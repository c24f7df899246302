"""Clocks: time is injected, never read inside the core (DESIGN §2).

>>> from datetime import UTC, datetime, timedelta
>>> c = ManualClock(datetime(2026, 3, 4, tzinfo=UTC))
>>> c.advance(timedelta(minutes=5)).isoformat()
'2026-03-04T00:05:00+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time (aware UTC)."""

    def now(self) -> datetime:
        """The current time."""


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> datetime:
        """The current time (UTC)."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests, replays)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start: must be timezone-aware")
        self._now = start

    def now(self) -> datetime:
        """The time it was set to."""
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when``."""
        self._now = when

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; returns the new time."""
        self._now += delta
        return self._now
