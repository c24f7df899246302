"""The recorder: writes what happens to incidents into the :class:`~radar.incidents.store.IncidentStore`.

The radar calls it as things happen: every incident event (all kinds and levels, not only the
announced ones), every bucket of a stream while one of its incidents is open, every notification
delivered, every note. Each call is one store transaction; events carry a key
(:attr:`~alerts.escalation.IncidentEvent.key`) so a journal replay after a crash records nothing
twice.

When an incident opens, the stream's last hours (what was expected of each bucket, and what came)
are recorded too: the timeline chart then shows how the surge built up before anyone was told.

A write the store cannot take because it is unreachable (an operational error: down, restarting,
locked) goes into the :class:`~radar.incidents.spool.StoreSpool`, and so does every write after it
until the spool has been handed back to the store, in order: :meth:`IncidentRecorder.flush` tries
that, with an exponential backoff, before each write and on the radar's schedule. A write the store
refuses for good (any other error) is logged, counted in ``dropped`` and not retried. Detection and
alerts never wait for the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from alerts.chart import Series
from alerts.escalation import IncidentEvent
from alerts.incident import Incident
from alerts.level import Level
from radar.incidents.spool import StoreSpool
from radar.incidents.store import LEVELS, IncidentStore
from radar.sample import Sample

log = logging.getLogger(__name__)
#: Errors that say the store cannot be reached now (worth retrying), not that a write is wrong.
UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError)


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
    spool
        Where writes wait while the store is down (default: in memory only).
    clock
        Monotonic seconds, for the retry backoff.
    retry_after
        The first and the longest wait, in seconds, before the spool is tried again after a failure.
    """

    def __init__(
        self,
        store: IncidentStore,
        bucket_seconds: int = 60,
        history: Callable[[Incident], Series | None] | None = None,
        spool: StoreSpool | None = None,
        clock: Callable[[], float] = time.monotonic,
        retry_after: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        self.store = store
        self.bucket_seconds = bucket_seconds
        self.history = history
        self.spool = spool if spool is not None else StoreSpool()
        self.clock = clock
        self.retry_after = retry_after
        self.failures = 0  # times the store was found unreachable
        self.dropped = 0  # writes the store refused for good
        self._delay = retry_after[0]
        self._retry_at = 0.0
        self._lock = threading.RLock()  # the Slack dispatcher's thread records deliveries too

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
        self._write("record", [columns(incident, self.bucket_seconds), entry, [list(x) for x in samples]])

    def bucket(self, incident_ids: list[str], sample: Sample) -> None:
        """Record a bucket of the stream of these (open) incidents."""
        for incident_id in incident_ids:
            self._write("add_samples", [incident_id, [list(sample)]])

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
        self._write("add_entry", [incident_id, entry])

    @property
    def pending(self) -> int:
        """Writes waiting in the spool for the store."""
        return len(self.spool)

    def flush(self) -> bool:
        """Hand the spooled writes back to the store if it is time to try; True when none are left."""
        with self._lock:
            if not len(self.spool):
                return True
            if self.clock() < self._retry_at:
                return False
            try:
                done = self.spool.drain(self._apply)
            except UNREACHABLE as exc:  # still down: try again later
                self._failed(exc)
                return False
            log.info("incident store: %d spooled write(s) written", done)
            self._delay = self.retry_after[0]
            return True

    def _write(self, op: str, args: list[Any]) -> None:
        """One store write, or into the spool (in order behind what is already there)."""
        with self._lock:
            if len(self.spool) and not self.flush():
                self.spool.add(op, args)
                return
            try:
                self._apply(op, args)
            except UNREACHABLE as exc:  # the store must never stop detection: the write waits in the spool
                self.spool.add(op, args)
                self._failed(exc)

    def _apply(self, op: str, args: list[Any]) -> None:
        """Make one write; a write the store refuses for good is logged and dropped."""
        try:
            if op == "record":
                incident, entry, samples = args
                self.store.record(incident, entry, [Sample(*x) for x in samples])
            elif op == "add_samples":
                incident_id, samples = args
                self.store.add_samples(incident_id, [Sample(*x) for x in samples])
            elif op == "add_entry":
                self.store.add_entry(*args)
            else:
                raise ValueError(f"unknown write {op!r}")
        except UNREACHABLE:
            raise
        except Exception:
            self.dropped += 1
            log.exception("incident store: %s refused, not retried", op)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self._retry_at = self.clock() + self._delay
        log.warning(
            "incident store unreachable (%s); %d write(s) waiting in the spool, next try in %.0f s",
            type(exc).__name__,
            len(self.spool),
            self._delay,
        )
        self._delay = min(self._delay * 2, self.retry_after[1])
