"""The notifier plug-in point, and which incident events people are told about.

A notifier is anything with ``notify(event)``. Which events reach people is decided once, here:
only incidents of kind ``crisis`` page; ``watch`` is for dashboards; an incident is announced when
it first reaches ``warning`` and then at every level change; its resolution is announced only if
it was announced before, and so are what people did to it (acknowledged, snoozed).
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from alerts.escalation import IncidentEvent
from alerts.level import Level

log = logging.getLogger(__name__)


@runtime_checkable
class Notifier(Protocol):
    """Receives the incident events worth telling people about."""

    def notify(self, event: IncidentEvent) -> None:
        """Deliver one event (raise on failure: the caller decides whether to retry)."""


def is_announced(event: IncidentEvent) -> bool:
    """True if ``event`` should reach the on-call team."""
    incident = event.incident
    if not incident.pages:
        return False
    if event.type in ("resolved", "acknowledged", "snoozed"):
        return incident.peak_level >= Level.WARNING
    if event.level >= Level.WARNING:
        return True
    # a drop below warning of an incident that was announced: tell them it is calming down
    return event.type == "deescalated" and event.previous >= Level.WARNING


class FanOut:
    """Sends each announced event to several notifiers; one failing does not stop the others."""

    def __init__(self, notifiers: list[Notifier]) -> None:
        self.notifiers = notifiers
        self.failures = 0

    def notify(self, event: IncidentEvent) -> None:
        """Deliver ``event`` to every notifier if it is announced."""
        if not is_announced(event):
            return
        for notifier in self.notifiers:
            try:
                notifier.notify(event)
            except Exception:  # a broken notifier must not stop detection
                self.failures += 1
                log.exception("notifier %s failed on %s", type(notifier).__name__, event.incident.id)
