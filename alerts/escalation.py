"""Escalation policy: per-bucket candidate levels in, incident lifecycle events out.

The detector says, bucket by bucket, how bad a stream looks (an :class:`Observation`). The
:class:`EscalationPolicy` turns that jittery signal into incidents people can act on:

* an incident opens at the first level above calm, and escalates at once when the candidate
  level rises (a crisis must not wait);
* it de-escalates only after the candidate has stayed lower for ``deescalate_after`` (hysteresis),
  to the highest level seen during that hold;
* it resolves after ``quiet_period`` without any abnormal bucket; it keeps one identity
  throughout, and a new incident opens only after resolution.

Time is the observations' event time, so replays and live runs behave the same.

>>> from datetime import UTC, datetime, timedelta
>>> p = EscalationPolicy(deescalate_after=timedelta(minutes=10), quiet_period=timedelta(minutes=30))
>>> t0 = datetime(2026, 3, 4, 9, tzinfo=UTC)
>>> def at(m, level):
...     return p.observe(Observation("acme", "crisis", t0 + timedelta(minutes=m), level))
>>> [e.type for e in at(0, Level.WARNING)]
['opened']
>>> [e.type for e in at(1, Level.CRISIS)]
['escalated']
>>> [e.type for m in range(2, 60) for e in at(m, Level.CALM)]
['deescalated', 'resolved']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.incident import Action, Incident, LevelChange
from alerts.level import Level

EVENT_TYPES = ("opened", "escalated", "deescalated", "resolved", "acknowledged", "snoozed")


@dataclass(frozen=True, slots=True)
class Observation:
    """The candidate level of one stream and kind at the end of a bucket, and why.

    ``why`` may be a function returning the mapping: it is called only when a level change needs it
    (explaining every bucket of a long incident would cost more than detecting it).
    """

    stream: str
    kind: str
    at: datetime
    level: Level
    why: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)

    def explain(self) -> dict[str, Any]:
        """The why, as a new dict."""
        return dict(self.why() if callable(self.why) else self.why)


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """Something that happened to an incident (what notifiers and the record receive)."""

    type: str  # one of EVENT_TYPES
    incident: Incident
    change: LevelChange
    previous: Level
    action: Action | None = None  # what a person did, for events people caused

    @property
    def level(self) -> Level:
        """The level after the event (``calm`` once resolved)."""
        return self.change.level

    @property
    def key(self) -> str:
        """The event's identity: the same when a journal replay re-emits it (for idempotent records)."""
        incident = self.incident
        if self.action is not None:
            return f"{incident.id}#action:{self.action.id}"
        index = next((i for i, c in enumerate(incident.levels) if c is self.change), len(incident.levels))
        return f"{incident.id}#level:{index}:{self.type}"


@dataclass(slots=True)
class _Track:
    incident: Incident
    below_since: datetime | None = None
    hold_max: Level = Level.CALM


class EscalationPolicy:
    """Hysteresis and quiet-period rules from candidate levels to incident events.

    Parameters
    ----------
    deescalate_after
        How long the candidate must stay below the current level before the level drops.
    quiet_period
        How long without an abnormal bucket before the incident resolves.
    quiet_periods
        Per-kind overrides of ``quiet_period`` (e.g. a silent source resolves as soon as data
        flows again).
    """

    def __init__(
        self,
        deescalate_after: timedelta = timedelta(minutes=15),
        quiet_period: timedelta = timedelta(minutes=60),
        quiet_periods: Mapping[str, timedelta] | None = None,
    ) -> None:
        if deescalate_after < timedelta(0):
            raise ValueError(f"deescalate_after: {deescalate_after} must be >= 0")
        if quiet_period < timedelta(0):
            raise ValueError(f"quiet_period: {quiet_period} must be >= 0")
        self.deescalate_after = deescalate_after
        self.quiet_period = quiet_period
        self.quiet_periods = dict(quiet_periods or {})
        self._tracks: dict[tuple[str, str], _Track] = {}

    def open_incidents(self) -> Iterator[Incident]:
        """The incidents currently open."""
        return (t.incident for t in self._tracks.values())

    def any_open(self) -> bool:
        """Whether any incident is open (of any stream: the usual answer is no)."""
        return bool(self._tracks)

    def incident(self, stream: str, kind: str) -> Incident | None:
        """The open incident of ``stream`` and ``kind``, if any."""
        track = self._tracks.get((stream, kind))
        return track.incident if track else None

    def find(self, incident_id: str) -> Incident | None:
        """The open incident with id ``incident_id``, if any."""
        return next((t.incident for t in self._tracks.values() if t.incident.id == incident_id), None)

    def act(self, incident_id: str, action: Action) -> list[IncidentEvent]:
        """Apply what a person did to the open incident ``incident_id``.

        Acknowledging or snoozing records the action; resolving also closes the incident (a
        surge that goes on opens a new one). Applying an action twice (same ``action.id``), or to
        an incident that is no longer open, changes nothing and returns no event.
        """
        incident = self.find(incident_id)
        if incident is None or incident.has_action(action.id):
            return []
        incident.actions.append(action)
        level = incident.level
        if action.action == "resolve":
            del self._tracks[(incident.stream, incident.kind)]
            incident.resolved_at = action.at
            change = incident.change(action.at, Level.CALM, {})
            return [IncidentEvent("resolved", incident, change, level, action)]
        kind = {"acknowledge": "acknowledged", "snooze": "snoozed"}[action.action]
        return [IncidentEvent(kind, incident, LevelChange(action.at, level, {}), level, action)]

    def observe(self, obs: Observation) -> list[IncidentEvent]:
        """Apply one observation; returns the incident events it causes (usually none)."""
        key = (obs.stream, obs.kind)
        track = self._tracks.get(key)
        if track is None:
            if obs.level <= Level.CALM:
                return []
            incident = Incident(
                id=Incident.make_id(obs.stream, obs.kind, obs.at),
                stream=obs.stream,
                kind=obs.kind,
                opened_at=obs.at,
                level=Level.CALM,
                last_abnormal_at=obs.at,
            )
            change = incident.change(obs.at, obs.level, obs.explain())
            self._tracks[key] = _Track(incident)
            return [IncidentEvent("opened", incident, change, Level.CALM)]
        incident = track.incident
        if obs.level > Level.CALM:
            incident.last_abnormal_at = obs.at
        if obs.level > incident.level:
            track.below_since, track.hold_max = None, Level.CALM
            previous = incident.level
            return [
                IncidentEvent(
                    "escalated", incident, incident.change(obs.at, obs.level, obs.explain()), previous
                )
            ]
        if obs.level == incident.level:
            track.below_since, track.hold_max = None, Level.CALM
            return []
        # below the current level
        quiet = self.quiet_periods.get(obs.kind, self.quiet_period)
        last = incident.last_abnormal_at or incident.opened_at
        if obs.level <= Level.CALM and obs.at - last >= quiet:
            del self._tracks[key]
            previous = incident.level
            incident.resolved_at = obs.at
            change = incident.change(obs.at, Level.CALM, {})
            return [IncidentEvent("resolved", incident, change, previous)]
        if track.below_since is None:
            track.below_since, track.hold_max = obs.at, obs.level
        else:
            track.hold_max = max(track.hold_max, obs.level)
        if obs.at - track.below_since >= self.deescalate_after:
            target = max(track.hold_max, Level.WATCH)
            track.below_since, track.hold_max = None, Level.CALM
            if target < incident.level:
                previous = incident.level
                change = incident.change(obs.at, target, obs.explain() or incident.why)
                return [IncidentEvent("deescalated", incident, change, previous)]
        return []
