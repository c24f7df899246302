"""The incident: one identity from the first abnormal level to resolution.

An incident opens at the first level above calm, records every level change with its why, and
keeps its identity while it escalates and de-escalates. Its JSON form is the backtest contract of
DESIGN §3 (``id, stream, kind, opened_at, resolved_at, peak_level, levels``) plus extra fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts.level import Level

#: Incident kinds. Only ``crisis`` ever pages.
KINDS = ("crisis", "buzz", "source_silent")


def iso(ts: datetime) -> str:
    """UTC ISO 8601 with ``Z``."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class LevelChange:
    """A level an incident moved to, when (event time), and why."""

    at: datetime
    level: Level
    why: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``{"at", "level", "why"}``."""
        return {"at": iso(self.at), "level": str(self.level), "why": self.why}


@dataclass(slots=True)
class Incident:
    """An open or resolved incident of one stream and kind."""

    id: str
    stream: str
    kind: str
    opened_at: datetime
    level: Level
    levels: list[LevelChange] = field(default_factory=list)
    peak_level: Level = Level.CALM
    resolved_at: datetime | None = None
    last_abnormal_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """True until resolved."""
        return self.resolved_at is None

    @property
    def pages(self) -> bool:
        """Only crisis incidents are ever notified."""
        return self.kind == "crisis"

    @property
    def why(self) -> dict[str, Any]:
        """The why of the latest level change with one (resolution carries none)."""
        for change in reversed(self.levels):
            if change.why:
                return change.why
        return {}

    def change(self, at: datetime, level: Level, why: dict[str, Any]) -> LevelChange:
        """Move to ``level`` and record it."""
        entry = LevelChange(at, level, why)
        self.levels.append(entry)
        self.level = level
        if level > self.peak_level:
            self.peak_level = level
        return entry

    def to_json(self) -> dict[str, Any]:
        """The backtest contract of DESIGN §3, with each change's why."""
        return {
            "id": self.id,
            "stream": self.stream,
            "kind": self.kind,
            "opened_at": iso(self.opened_at),
            "resolved_at": iso(self.resolved_at) if self.resolved_at else None,
            "peak_level": str(self.peak_level),
            "levels": [c.to_json() for c in self.levels],
        }

    @staticmethod
    def make_id(stream: str, kind: str, opened_at: datetime) -> str:
        """Deterministic id: the same replay gives the same ids."""
        return f"{stream}:{kind}:{opened_at.astimezone(UTC).strftime('%Y%m%dT%H%MZ')}"
