"""The recorder: writes what happens to incidents into the :class:`~radar.incidents.store.IncidentStore`.

The radar calls it as things happen: every incident event (all kinds and levels, not only the
announced ones), every bucket of a stream while one of its incidents is open, every notification
delivered, every note. Each call is one store transaction; events carry a key
(:attr:`~alerts.escalation.IncidentEvent.key`) so a journal replay after a crash records nothing
twice.

When an incident opens, the stream's last hours (what was expected of each bucket, and what came)
are recorded too: the timeline chart then shows how the surge built up before anyone was told.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from alerts.chart import Series
from alerts.escalation import IncidentEvent
from alerts.incident import Incident
from alerts.level import Level
from radar.incidents.store import LEVELS, IncidentStore
from radar.sample import Sample

log = logging.getLogger(__name__)


def _ts(at: datetime | None) -> float | None:
    return at.timestamp() if at is not None else None


def columns(incident: Incident, bucket_seconds: int) -> dict[str, Any]:
    """The store's columns of ``incident`` now."""
    detected = next((c.at for c in incident.levels if c.level >= Level.WARNING), None)
    ack = incident.acknowledged
    closer = next((a for a in incident.actions if a.action == "resolve"), None)
    peak = next((c for c in reversed(incident.levels) if c.level == incident.peak_level and c.why), None)
    why = peak.why if peak is not None else incident.why
    return {
        "id": incident.id,
        "stream": incident.stream,
        "stream_name": str(why.get("stream_name") or incident.stream),
        "kind": incident.kind,
        "level": str(incident.level),
        "peak_level": str(incident.peak_level),
        "peak_rank": LEVELS.index(str(incident.peak_level)),
        "opened_at": incident.opened_at.timestamp(),
        "detected_at": _ts(detected) if incident.kind == "crisis" else None,
        "acknowledged_at": _ts(ack.at) if ack else None,
        "acknowledged_by": ack.actor if ack else None,
        "resolved_at": _ts(incident.resolved_at),
        "resolved_by": closer.actor if closer else None,
        "bucket_seconds": bucket_seconds,
        "why": why,
    }


class IncidentRecorder:
    """Feeds the store.

    Parameters
    ----------
    store
        Where it goes.
    bucket_seconds
        The radar's bucket size.
    history
        The stream's recent buckets with their expectations, when an incident opens (optional).
    """

    def __init__(
        self,
        store: IncidentStore,
        bucket_seconds: int = 60,
        history: Callable[[Incident], Series | None] | None = None,
    ) -> None:
        self.store = store
        self.bucket_seconds = bucket_seconds
        self.history = history
        self.failures = 0

    def event(self, event: IncidentEvent) -> None:
        """Record an incident event (idempotent)."""
        incident = event.incident
        change = event.change
        detail: dict[str, Any] = {}
        if event.action is not None:
            detail = {"action": event.action.action, "actor_id": event.action.actor_id}
            if event.action.until is not None:
                detail["until"] = event.action.until.timestamp()
        elif change.why:
            detail = {"why": change.why}
        entry = {
            "key": event.key,
            "at": change.at.timestamp(),
            "type": event.type,
            "level": str(event.level),
            "actor": event.action.actor if event.action is not None else None,
            "detail": detail,
        }
        samples: list[Sample] = []
        if event.type == "opened" and self.history is not None:
            series = self.history(incident)
            if series is not None:
                samples = [Sample(p[0], p[1], p[2], p[3], p[4], p[5], 0) for p in series.points]
        self._safely(self.store.record, columns(incident, self.bucket_seconds), entry, samples)

    def bucket(self, incident_ids: list[str], sample: Sample) -> None:
        """Record a bucket of the stream of these (open) incidents."""
        for incident_id in incident_ids:
            self._safely(self.store.add_samples, incident_id, [sample])

    def notified(self, incident_id: str, what: str, key: str, at: float, detail: dict[str, Any]) -> None:
        """Record a notification delivered (``key`` unique per delivery)."""
        entry = {
            "key": key,
            "at": at,
            "type": "notified",
            "level": None,
            "actor": None,
            "detail": {"what": what, **detail},
        }
        self._safely(self.store.add_entry, incident_id, entry)

    def _safely(self, write: Callable[..., Any], *args: Any) -> None:
        try:
            write(*args)
        except Exception:  # the store must never stop detection; the failure is logged and counted
            self.failures += 1
            log.exception("incident store: %s failed", getattr(write, "__name__", "write"))
