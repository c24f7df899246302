"""The incident: one identity from the first abnormal level to resolution.

An incident opens at the first level above calm, records every level change with its why, and
keeps its identity while it escalates and de-escalates. Its JSON form is the backtest contract of
DESIGN §3 (``id, stream, kind, opened_at, resolved_at, peak_level, levels``) plus extra fields:
``actions``, what people did to it (acknowledge, snooze, resolve), when they did anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts.level import Level

#: Incident kinds. Only ``crisis`` ever pages.
KINDS = ("crisis", "buzz", "source_silent")
#: What people can do to an incident (from Slack's buttons or the API).
ACTIONS = ("acknowledge", "resolve", "snooze")


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


@dataclass(frozen=True, slots=True)
class Action:
    """Something a person did to an incident: who, what, when (wall time), and until when."""

    id: str  # unique: the same action applied twice (a replay after a restart) counts once
    at: datetime
    action: str  # one of ACTIONS
    actor: str  # who, as people read it (a display name)
    until: datetime | None = None  # snoozes only
    actor_id: str = ""  # who, as a system knows them (a Slack user id), when known

    def to_json(self) -> dict[str, Any]:
        """``{"id", "at", "action", "actor", "until"}``."""
        return {
            "id": self.id,
            "at": iso(self.at),
            "action": self.action,
            "actor": self.actor,
            "until": iso(self.until) if self.until else None,
            "actor_id": self.actor_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Action:
        """The inverse of :meth:`to_json`."""
        until = data.get("until")
        return cls(
            id=str(data["id"]),
            at=datetime.fromisoformat(data["at"]),
            action=str(data["action"]),
            actor=str(data["actor"]),
            until=datetime.fromisoformat(until) if until else None,
            actor_id=str(data.get("actor_id", "")),
        )


def first_acknowledgement(actions: Sequence[Action]) -> Action | None:
    """The first ``acknowledge`` among ``actions``."""
    return next((a for a in actions if a.action == "acknowledge"), None)


def snooze_end(actions: Sequence[Action], now: datetime) -> datetime | None:
    """When the latest snooze among ``actions`` ends, if it is still running at ``now``."""
    for action in reversed(actions):
        if action.action == "snooze" and action.until is not None:
            return action.until if action.until > now else None
    return None


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
    actions: list[Action] = field(default_factory=list)

    def __getstate__(self) -> dict[str, Any]:  # by name: checkpoints survive new fields
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def __setstate__(self, state: dict[str, Any] | list[Any]) -> None:
        if isinstance(state, list):  # checkpoints written before fields were pickled by name
            state = dict(zip(self.__dataclass_fields__, state, strict=False))
        for name, spec in self.__dataclass_fields__.items():
            if name in state:
                value = state[name]
            elif spec.default_factory is not MISSING:
                value = spec.default_factory()
            else:
                value = spec.default
            object.__setattr__(self, name, value)

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

    @property
    def easing(self) -> bool:
        """True while open and its latest level change went down (a de-escalation)."""
        return self.is_open and len(self.levels) >= 2 and self.levels[-1].level < self.levels[-2].level

    @property
    def acknowledged(self) -> Action | None:
        """The first acknowledgement, if anyone acknowledged the incident."""
        return first_acknowledgement(self.actions)

    def snoozed_until(self, now: datetime) -> datetime | None:
        """When the latest snooze ends, if one is running at ``now``."""
        return snooze_end(self.actions, now)

    def has_action(self, action_id: str) -> bool:
        """True if the action ``action_id`` was applied already."""
        return any(a.id == action_id for a in self.actions)

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
            **({"actions": [a.to_json() for a in self.actions]} if self.actions else {}),
        }

    @staticmethod
    def make_id(stream: str, kind: str, opened_at: datetime) -> str:
        """Deterministic id: the same replay gives the same ids."""
        return f"{stream}:{kind}:{opened_at.astimezone(UTC).strftime('%Y%m%dT%H%MZ')}"
