"""The Slack notifier: decides what each incident event means in Slack and queues it in the outbox.

It never calls Slack itself (that is :class:`alerts.delivery.SlackDispatcher`'s job), so a slow or
unreachable Slack can never hold up detection. What it decides, per DESIGN §5:

* one parent message per incident, queued when the incident first reaches ``warning`` (during
  quiet hours a warning waits for their end; a crisis never waits and hurries a waiting warning);
  every later event gives the parent a newer view (it is edited in place) and a thread reply;
* a crisis mentions the stream's on-call user group: its first parent message, or the reply of the
  escalation to crisis (broadcast to the channel too); once someone has acknowledged an incident
  that was already at crisis, a return to crisis (a wave surging again) is told in the thread without
  mentioning the group; reminders of an unacknowledged crisis mention it again every
  ``reminder_minutes``; a resolution mentions nobody;
* a running snooze holds back reminders and updates that do not go above the level the incident
  had when it was snoozed (the parent is still edited: edits notify nobody);
* a chart of the stream's last hours is uploaded into the thread when the incident opens and at
  every escalation.

Keys make every queued item idempotent: a journal replay after a restart re-emits the same events,
and the same keys, so nothing is posted twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from alerts.chart import Series
from alerts.escalation import IncidentEvent
from alerts.incident import Incident
from alerts.level import Level
from alerts.outbox import Outbox
from alerts.quiet_hours import QuietHours
from alerts.slack_message import IncidentView, reply_text

#: ``stream -> (channel, on-call user group id)``.
Router = Callable[[str], tuple[str, str]]
#: ``(incident, now) -> the chart's data``.
ChartSource = Callable[[Incident, datetime], Series | None]


def _announces(event: IncidentEvent) -> bool:
    """True for the event that first took the incident to ``warning`` or above (its parent message)."""
    first = next((c for c in event.incident.levels if c.level >= Level.WARNING), None)
    return first is not None and first is event.change


def _seen_by_people(incident: Incident, event: IncidentEvent) -> bool:
    """Whether someone acknowledged ``incident`` after it had already been at ``event``'s level."""
    ack = incident.acknowledged
    if ack is None:
        return False
    return any(c.level >= event.level and c.at <= ack.at for c in incident.levels if c is not event.change)


def _level_at(incident: Incident, at: datetime) -> Level:
    """The incident's level at ``at``."""
    level = Level.CALM
    for change in incident.levels:
        if change.at > at:
            break
        level = change.level
    return level


class SlackNotifier:
    """Turns announced incident events into outbox work.

    Parameters
    ----------
    outbox
        Where the work goes.
    router
        The channel and on-call group of a stream.
    clock
        ``() -> datetime`` (aware): the wall clock.
    quiet_hours
        When warnings wait.
    reminder
        How often an unacknowledged crisis is re-announced.
    charts
        Where the chart data comes from (no charts when None).
    wake
        Called after queueing (wakes the dispatcher).
    """

    def __init__(
        self,
        outbox: Outbox,
        router: Router,
        clock: Callable[[], datetime],
        *,
        quiet_hours: QuietHours | None = None,
        reminder: timedelta = timedelta(minutes=30),
        charts: ChartSource | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.router = router
        self.clock = clock
        self.quiet_hours = quiet_hours or QuietHours()
        self.reminder = reminder
        self.charts = charts
        self.wake = wake or (lambda: None)

    def notify(self, event: IncidentEvent) -> None:
        """Queue what ``event`` means in Slack (the FanOut has already checked it is announced)."""
        incident = event.incident
        now = self.clock()
        stamp = now.timestamp()
        view = IncidentView.of(incident)
        version = len(incident.levels) + len(incident.actions)
        channel, group = self.router(incident.stream)
        thread = self.outbox.thread(incident.id)
        if thread is None or _announces(event):  # (a replayed announcement finds its thread)
            if event.level < Level.WARNING or not channel:
                return  # nothing was announced in Slack, so there is nothing to update
            due = now
            if event.level < Level.CRISIS:
                due = self.quiet_hours.ends(now) or now
            self.outbox.upsert_thread(
                incident.id, channel, view.to_json(), version=version, now=stamp, due_at=due.timestamp()
            )
            self._chart(incident, event.key, now, due)
            self.wake()
            return
        self.outbox.upsert_thread(
            incident.id, thread.channel, view.to_json(), version=version, now=stamp, due_at=thread.due_at
        )
        crisis = event.type in ("opened", "escalated") and event.level >= Level.CRISIS
        if crisis:
            self.outbox.hurry(incident.id, stamp)  # quiet hours never hold a crisis back
            crisis = not _seen_by_people(incident, event)
        if not self._snoozed(incident, event, now):
            text = reply_text(
                event.type,
                view,
                event.change.at,
                previous=str(event.previous),
                action=event.action,
                group=group if crisis else "",
            )
            body = json.dumps({"text": text, "broadcast": crisis})
            self.outbox.add_reply(incident.id, event.key, "text", body, now=stamp)
        if event.type == "escalated":
            self._chart(incident, event.key, now, now)
        self.wake()

    def _snoozed(self, incident: Incident, event: IncidentEvent, now: datetime) -> bool:
        """True when a running snooze holds this event's reply back."""
        if event.type not in ("opened", "escalated", "deescalated"):
            return False  # resolutions and what people did are always told
        until = incident.snoozed_until(now)
        if until is None:
            return False
        snooze = next(a for a in reversed(incident.actions) if a.action == "snooze")
        return event.level <= _level_at(incident, snooze.at)

    def _chart(self, incident: Incident, key: str, now: datetime, due: datetime) -> None:
        if self.charts is None:
            return
        series = self.charts(incident, now)
        if series is None or not series.points:
            return
        body = json.dumps({"series": series.to_json(), "title": f"{series.stream_name}, last hours"})
        self.outbox.add_reply(
            incident.id, f"{key}:chart", "chart", body, now=now.timestamp(),
            due_at=due.timestamp(),
        )  # fmt: skip

    def remind(self) -> int:
        """Queue a reminder for every crisis left unacknowledged too long; returns how many."""
        now = self.clock()
        stamp = now.timestamp()
        queued = 0
        for thread in self.outbox.threads():
            if thread.failed or thread.parent_ts is None:
                continue
            view = IncidentView.from_json(thread.view)
            if view.resolved or view.level != "crisis" or view.acknowledged() is not None:
                continue
            if view.snoozed_until(now) is not None:
                continue
            last = thread.reminded_at or thread.created_at
            if stamp - last < self.reminder.total_seconds():
                continue
            count = self.outbox.reminded(thread.incident_id, stamp)
            _, group = self.router(view.stream)
            text = reply_text("reminder", view, now, group=group)
            body = json.dumps({"text": text, "broadcast": False})
            self.outbox.add_reply(
                thread.incident_id, f"{thread.incident_id}#reminder:{count}", "text", body, now=stamp
            )
            queued += 1
        if queued:
            self.wake()
        return queued
