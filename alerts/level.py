"""Alert levels: ``calm < watch < warning < crisis`` (DESIGN §3).

>>> Level.parse("warning") > Level.WATCH
True
>>> str(Level.CRISIS)
'crisis'
"""

from __future__ import annotations

from enum import IntEnum


class Level(IntEnum):
    """How bad a stream looks. ``watch`` is shown on dashboards only; ``warning`` is posted;
    ``crisis`` is posted and pages the on-call group."""

    CALM = 0
    WATCH = 1
    WARNING = 2
    CRISIS = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Level:
        """The level called ``name`` (case-insensitive); ``ValueError`` naming it otherwise."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"level: unknown level {name!r} (calm, watch, warning, crisis)") from None
