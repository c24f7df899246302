"""Slack alerting end to end below the service: escalation policy → notifier → SQLite outbox →
dispatcher → a real ``slack_sdk.WebClient`` → a local HTTP server speaking the Slack Web API.

The only thing not real is time: the notifier and the dispatcher read a manual clock, so an hour
of outage or a four-hour snooze takes milliseconds. Covered: a whole incident lifecycle with
exactly one parent message, 429 bursts, an hour-long outage with nothing lost, a restart with an
unanswered post in flight (no duplicate parent), permanent and token errors, quiet hours, snooze
and reminders.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from alerts.chart import Series
from alerts.delivery import SlackDispatcher
from alerts.escalation import EscalationPolicy, IncidentEvent, Observation
from alerts.incident import Action, Incident
from alerts.level import Level
from alerts.notifier import FanOut
from alerts.outbox import Outbox
from alerts.quiet_hours import QuietHours
from alerts.slack import SlackNotifier
from alerts.slack_message import (
    BUTTON_CHARS,
    FIELD_CHARS,
    HEADER_CHARS,
    MAX_BLOCKS,
    SECTION_CHARS,
    IncidentView,
    Links,
    parent_message,
)
from radar.clock import ManualClock
from tests.fakeslack import FakeSlack

T0 = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
CHANNEL, GROUP = "C0CRISIS", "S0ONCALL"


def why(ratio: float = 3.0, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "stream_name": "Acme Air",
        "window_minutes": 15,
        "mentions": 120,
        "expected": 40.0,
        "negative": 60,
        "negative_expected": 6.0,
        "ratio": ratio,
        "negative_share": 0.5,
        "negative_share_baseline": 0.12,
        "top_terms": [
            {"term": "strike", "count": 30, "lift": 25.0},
            {"term": "<!channel>", "count": 9, "lift": 9},
        ],
        "top_posts": [
            {"id": "p1", "url": "https://social.example/p/1", "author": "@bigvoice", "followers": 120000,
             "reshares": 800, "text": "Acme Air cancelled everything & nobody <answers>"},
        ],
    }  # fmt: skip
    base.update(extra)
    return base


class Rig:
    """The alerting chain with a manual clock."""

    def __init__(self, tmp: Path, slack: FakeSlack, *, timeout: float = 2.0, **notifier: Any) -> None:
        self.tmp, self.slack, self.timeout = tmp, slack, timeout
        self.clock = ManualClock(T0)
        self.policy = EscalationPolicy(
            deescalate_after=timedelta(minutes=10), quiet_period=timedelta(minutes=30)
        )
        self.notifier_kw = notifier
        self.events: list[IncidentEvent] = []
        self.open()

    def open(self) -> None:
        """(Re)build outbox, dispatcher and notifier on the same SQLite file: a restart."""
        self.outbox = Outbox(self.tmp / "outbox.sqlite3")
        client = WebClient(
            token=self.slack.token, base_url=self.slack.base_url, timeout=self.timeout, retry_handlers=[]
        )
        self.dispatcher = SlackDispatcher(
            self.outbox, client, group_of=lambda s: GROUP, clock=lambda: self.clock.now().timestamp(),
            links=Links("https://radar.example/incidents/{id}", "https://grafana.example/d/radar?var-stream={stream}"),
        )  # fmt: skip
        self.notifier = SlackNotifier(
            self.outbox, lambda s: (CHANNEL, GROUP), self.clock.now, charts=self.chart, **self.notifier_kw
        )
        self.fanout = FanOut([self.notifier])

    def chart(self, incident: Incident, now: datetime) -> Series:
        start = incident.opened_at.timestamp() - 3600
        points = [(start + 60 * i, 10 + (i > 55) * 50, 1 + (i > 55) * 30, 10.0, 2.0, 20.0) for i in range(62)]
        return Series("Acme Air", 60, points, incident.opened_at.timestamp())

    def at(self, minute: float) -> datetime:
        return T0 + timedelta(minutes=minute)

    def observe(self, minute: float, level: Level, stream: str = "acme", **w: Any) -> list[IncidentEvent]:
        when = self.at(minute)
        if when > self.clock.now():
            self.clock.set(when)
        events = self.policy.observe(Observation(stream, "crisis", when, level, why(**w)))
        for event in events:
            self.events.append(event)
            self.fanout.notify(event)
        return events

    def act(self, action: str, *, user: str = "U0JANE", hours: float = 0) -> list[IncidentEvent]:
        incident = next(self.policy.open_incidents())
        now = self.clock.now()
        until = now + timedelta(hours=hours) if hours else None
        record = Action(f"a{len(self.events)}", now, action, "jane", until, actor_id=user)
        events = self.policy.act(incident.id, record)
        for event in events:
            self.events.append(event)
            self.fanout.notify(event)
        return events

    def drain(self, passes: int = 60) -> None:
        """Run the dispatcher until the outbox is empty (a second of clock between idle passes)."""
        for _ in range(passes):
            if self.outbox.depth() == 0:
                return
            if self.dispatcher.run_once() == 0:
                self.clock.advance(timedelta(seconds=1))
        raise AssertionError(f"outbox not drained: {self.outbox.depth()} left, {self.dispatcher.status()}")

    def thread(self) -> list[Any]:
        (parent,) = self.slack.parents(CHANNEL)
        return self.slack.replies(CHANNEL, parent.ts)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(channels=(CHANNEL, "C0OTHER")) as server:
        yield server


def blocks_text(message: Any) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


def test_a_whole_incident_lifecycle_has_exactly_one_parent(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack)
    rig.observe(0, Level.WATCH)  # watch: dashboards only
    rig.drain()
    assert slack.parents() == []
    rig.observe(1, Level.WARNING)
    rig.drain()
    (parent,) = slack.parents(CHANNEL)
    assert parent.text.startswith("🟠 WARNING: Acme Air — negative mentions 3.0× normal over 15 min")
    assert "subteam" not in parent.text + blocks_text(parent)  # a warning pings nobody
    assert parent.metadata == {
        "event_type": "crisis_radar_incident",
        "event_payload": {"incident_id": rig.events[0].incident.id},
    }
    body = blocks_text(parent)
    for shown in ("120 in 15 min vs 40 expected (3.0× normal)", "50% (baseline 12%)", "`strike` ×25",
                  "<https://social.example/p/1|@bigvoice>", "120,000 followers", "&lt;answers&gt;",
                  "&lt;!channel&gt;", "https://radar.example/incidents/", "var-stream=acme"):  # fmt: skip
        assert shown in body, shown
    buttons = [e["action_id"] for b in parent.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["ack", "resolve", "snooze_1h", "snooze_4h"]
    (chart,) = slack.files.values()  # the opening chart, in the thread
    assert chart.content.startswith(b"\x89PNG") and chart.thread_ts == parent.ts

    rig.observe(3, Level.CRISIS, ratio=7.5)
    rig.drain()
    assert len(slack.parents(CHANNEL)) == 1
    escalation = rig.thread()[-1] if not rig.thread()[-1].files else rig.thread()[-2]
    assert "*CRISIS*" in escalation.text and f"<!subteam^{GROUP}>" in escalation.text
    assert slack.calls("chat.postMessage")[-1].args.get("reply_broadcast") in (True, "true", "1", 1) or any(
        c.args.get("reply_broadcast") in (True, "true", "1", 1) for c in slack.calls("chat.postMessage")
    )
    assert slack.parents(CHANNEL)[0].text.startswith("🔴 CRISIS: Acme Air — negative mentions 7.5× normal")
    assert len(slack.files) == 2  # and a chart at the escalation

    rig.clock.advance(timedelta(minutes=2))
    rig.act("acknowledge")
    rig.drain()
    parent = slack.parents(CHANNEL)[0]
    assert "Acknowledged by <@U0JANE>" in blocks_text(parent)
    buttons = [e["action_id"] for b in parent.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["resolve", "snooze_1h", "snooze_4h"]

    for minute in range(6, 60):
        rig.observe(minute, Level.CALM)
        rig.drain()
    (parent,) = slack.parents(CHANNEL)
    assert parent.text == "✅ RESOLVED: Acme Air (peak: crisis)"
    assert all(b["type"] != "actions" for b in parent.blocks)
    assert "subteam" not in parent.text + blocks_text(parent)
    replies = [m for m in rig.thread() if not m.files]
    assert [r.text.split()[0] for r in replies] == ["🔴", "👍", "👀", "✅"]  # crisis, ack, down, resolved
    assert "subteam" not in replies[-1].text  # resolution pings nobody
    assert len(parent.edits) >= 3  # edited in place, never re-posted
    for call in slack.requests:  # every call authenticated with the bot token
        headers = {k.lower(): v for k, v in call.headers.items()}
        assert headers.get("authorization") == f"Bearer {slack.token}" or call.method == "upload"


def test_a_crisis_that_opens_as_one_pings_the_group_in_the_parent(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack)
    rig.observe(0, Level.CRISIS)
    rig.drain()
    (parent,) = slack.parents(CHANNEL)
    assert parent.text.endswith(f"<!subteam^{GROUP}>")
    rig.observe(16, Level.WARNING)  # hysteresis: 10 min below → down to warning
    rig.observe(27, Level.WARNING)
    rig.drain()
    (parent,) = slack.parents(CHANNEL)
    assert "subteam" not in parent.text and "subteam" not in blocks_text(parent)  # edits re-ping nobody


def test_429_bursts_honour_retry_after(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack)
    for i, stream in enumerate(("acme", "nimbus", "orbit")):
        rig.observe(i * 0.01, Level.WARNING, stream=stream)
    slack.fail_next("chat.postMessage", count=2, status=429, retry_after=5)
    start = rig.clock.now()
    assert rig.dispatcher.run_once() == 0  # refused: held for 5 s
    posts = len(slack.calls("chat.postMessage"))
    for _ in range(4):
        rig.clock.advance(timedelta(seconds=1))
        rig.dispatcher.run_once()
    assert len(slack.calls("chat.postMessage")) == posts  # nothing tried inside Retry-After
    rig.clock.advance(timedelta(seconds=1.01))
    rig.dispatcher.run_once()  # 429 again, another 5 s
    rig.drain()
    assert rig.clock.now() - start >= timedelta(seconds=10)
    assert len(slack.parents(CHANNEL)) == 3  # every incident once
    ok = [c for c in slack.calls("chat.postMessage") if c.status == 200 and c.answer.get("ok")]
    assert len(ok) == 3 and len({c.args["metadata"]["event_payload"]["incident_id"] for c in ok}) == 3
    assert rig.dispatcher.status()["outbox_depth"] == 0


def test_at_most_one_message_per_second_per_channel(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack)
    for i, stream in enumerate(("acme", "nimbus", "orbit", "zenith")):
        rig.observe(i * 0.01, Level.CRISIS, stream=stream)
    sent: dict[str, list[float]] = {"chat.postMessage": [], "files.completeUploadExternal": []}
    for _ in range(200):
        if rig.outbox.depth() == 0:
            break
        before = {m: len(slack.calls(m)) for m in sent}
        rig.dispatcher.run_once()
        for method, times in sent.items():
            times += [rig.clock.now().timestamp()] * (len(slack.calls(method)) - before[method])
        rig.clock.advance(timedelta(seconds=0.25))
    assert len(sent["chat.postMessage"]) == 4 and len(sent["files.completeUploadExternal"]) == 4
    for times in sent.values():  # messages a second apart; uploads too, on their own budget
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))


def test_an_hour_long_outage_delays_alerts_and_loses_none(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack)
    slack.set_down(True)
    rig.observe(0, Level.WARNING)
    rig.observe(5, Level.CRISIS, ratio=6.0)
    for minute in range(6, 22):
        rig.observe(minute, Level.WARNING)  # down to warning after 10 minutes
    for minute in range(22, 62):
        rig.dispatcher.run_once()
        rig.clock.set(rig.at(minute))
        rig.dispatcher.run_once()
    tried = len(slack.requests)
    assert slack.parents() == [] and rig.outbox.depth() > 0
    assert tried < 120  # backing off, not hammering a Slack that is down
    assert rig.dispatcher.status()["outbox_oldest_age_seconds"] >= 3600
    slack.set_down(False)
    rig.clock.advance(timedelta(seconds=61))
    rig.drain()
    (parent,) = slack.parents(CHANNEL)
    assert parent.text.startswith("🟠 WARNING") and parent.edits == []  # the current state, posted once
    replies = [m for m in rig.thread() if not m.files]
    assert len(replies) == 1  # the steps Slack missed, folded into one reply, in order
    assert replies[0].text.startswith("2 updates since <!date^")
    assert "(delivery was delayed)" in replies[0].text
    assert replies[0].text.index("*CRISIS*") < replies[0].text.index("Down from crisis")
    assert rig.dispatcher.status()["outbox_depth"] == 0


def test_an_outage_after_the_parent_ends_in_one_edit(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack)
    rig.observe(0, Level.WARNING)
    rig.drain()
    slack.set_down(True)
    rig.observe(2, Level.CRISIS, ratio=5.0)
    rig.observe(3, Level.CRISIS, ratio=9.0)
    rig.act("acknowledge")
    for _ in range(5):
        rig.dispatcher.run_once()
        rig.clock.advance(timedelta(minutes=5))
    slack.set_down(False)
    rig.drain()
    (parent,) = slack.parents(CHANNEL)
    assert "Acknowledged by" in blocks_text(parent) and parent.text.startswith("🔴 CRISIS")
    assert len([c for c in slack.calls("chat.update") if c.status == 200]) == 1


def test_a_restart_with_a_post_in_flight_posts_no_duplicate_parent(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack, timeout=0.3)
    rig.observe(0, Level.WARNING)
    slack.delay(1.0)  # Slack takes the message but the answer comes too late: outcome unknown
    rig.dispatcher.run_once()
    assert len(slack.parents(CHANNEL)) == 1
    assert rig.outbox.thread(rig.events[0].incident.id).parent_ts is None  # type: ignore[union-attr]
    slack.delay(0)
    rig.outbox.close()  # the process dies; a new one starts on the same outbox
    rig.open()
    for event in rig.events:  # the journal replay re-emits the same events
        rig.fanout.notify(event)
    rig.clock.advance(timedelta(seconds=5))
    rig.drain()
    assert len(slack.parents(CHANNEL)) == 1  # found by its metadata, adopted, not re-posted
    assert slack.calls("conversations.history")
    rig.observe(2, Level.CRISIS)
    rig.drain()
    assert len(slack.parents(CHANNEL)) == 1
    assert slack.parents(CHANNEL)[0].text.startswith("🔴 CRISIS")


def test_a_restart_replaying_events_posts_no_duplicate_replies(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack)
    rig.observe(0, Level.WARNING)
    rig.observe(2, Level.CRISIS)
    rig.drain()
    before = len(rig.thread())
    rig.outbox.close()
    rig.open()
    for event in rig.events:
        rig.fanout.notify(event)
    rig.drain()
    assert len(rig.thread()) == before and len(slack.parents(CHANNEL)) == 1


def test_a_bad_channel_is_a_permanent_error_not_retried(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack)
    rig.notifier.router = lambda s: ("C0GONE", GROUP)
    rig.observe(0, Level.WARNING)
    rig.dispatcher.run_once()
    for _ in range(5):
        rig.clock.advance(timedelta(minutes=1))
        rig.dispatcher.run_once()
    assert len(slack.calls("chat.postMessage")) == 1
    status = rig.dispatcher.status()
    assert status["permanent_failures"][0]["error"] == "channel_not_found"
    assert status["outbox_depth"] == 0  # failed items no longer wait


def test_a_revoked_token_stops_delivery_and_keeps_the_work(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack)
    rig.observe(0, Level.WARNING)
    slack.fail_next("*", error="token_revoked")
    rig.dispatcher.run_once()
    rig.clock.advance(timedelta(minutes=5))
    assert rig.dispatcher.run_once() == 0
    assert len(slack.requests) == 1
    assert rig.dispatcher.status()["halted"] == "token_revoked"
    assert (
        rig.outbox.depth() == 2
    )  # parent and chart still queued: a restart with a working token delivers it
    rig.outbox.close()
    rig.open()
    rig.drain()
    assert len(slack.parents(CHANNEL)) == 1


def test_quiet_hours_hold_warnings_until_they_end_and_a_crisis_overrides(
    tmp_path: Path, slack: FakeSlack
) -> None:
    rig = Rig(tmp_path, slack, quiet_hours=QuietHours("08:00-10:00", "UTC"))  # T0 is 09:00
    rig.observe(0, Level.WARNING)
    rig.clock.advance(timedelta(minutes=5))
    rig.dispatcher.run_once()
    assert slack.parents() == []
    rig.observe(10, Level.CRISIS)
    rig.drain()
    (parent,) = slack.parents(CHANNEL)
    assert parent.text.startswith("🔴 CRISIS")

    other = Rig(tmp_path / "b", slack, quiet_hours=QuietHours("08:00-10:00", "UTC"))
    other.observe(0, Level.WARNING, stream="nimbus")
    other.clock.set(T0 + timedelta(minutes=59))
    other.dispatcher.run_once()
    assert len(slack.parents(CHANNEL)) == 1
    other.clock.set(T0 + timedelta(minutes=60))
    other.drain()
    assert len(slack.parents(CHANNEL)) == 2


def test_a_crisis_acknowledged_and_back_again_pings_nobody_a_second_time(
    tmp_path: Path, slack: FakeSlack
) -> None:
    rig = Rig(tmp_path, slack)
    rig.observe(0, Level.CRISIS)
    rig.observe(1, Level.WATCH)
    rig.observe(11, Level.WATCH)  # the first burst is over: down to watch after the hold
    rig.observe(12, Level.CRISIS)  # not acknowledged yet: pings again
    rig.drain()
    assert [e.type for e in rig.events] == ["opened", "deescalated", "escalated"]
    assert f"<!subteam^{GROUP}>" in [m for m in rig.thread() if not m.files][-1].text
    rig.act("acknowledge")
    rig.observe(13, Level.WATCH)
    rig.observe(23, Level.WATCH)
    rig.observe(24, Level.CRISIS)  # the wave surges again: told in the thread, nobody pinged
    rig.drain()
    back = [m for m in rig.thread() if not m.files][-1]
    assert "*CRISIS*" in back.text and "subteam" not in back.text
    assert slack.parents(CHANNEL)[0].text.startswith("🔴 CRISIS")


def test_a_deescalation_says_the_surge_is_easing_not_the_peak_window_alone(
    tmp_path: Path, slack: FakeSlack
) -> None:
    rig = Rig(tmp_path, slack)
    rig.observe(0, Level.CRISIS, ratio=9.0, window_minutes=240)
    rig.drain()
    easing = {"window_minutes": 15, "negative": 4.0, "negative_expected": 5.0, "ratio": 0.8}
    for minute in (1, 11):
        rig.observe(minute, Level.WATCH, ratio=9.0, window_minutes=240, now=easing)
    rig.drain()
    assert [e.type for e in rig.events] == ["opened", "deescalated"]
    (parent,) = slack.parents(CHANNEL)
    assert parent.text.startswith(
        "👀 WATCH: Acme Air — easing: negative mentions 0.8× normal over the last 15 min"
        " — peak window 9.0× normal over 240 min"
    ), parent.text
    assert parent.edits[0]["text"].startswith(
        "🔴 CRISIS: Acme Air — negative mentions 9.0× normal over 240 min"
    )
    down = [m for m in rig.thread() if not m.files][-1]
    assert "Down from crisis to *watch*" in down.text
    assert down.text.endswith(
        ": easing: negative mentions 0.8× normal over the last 15 min; peak window 9.0× normal over 240 min"
    )
    rig.observe(12, Level.CRISIS, ratio=12.0, window_minutes=5, now=easing)  # surging again: no easing
    rig.drain()
    assert slack.parents(CHANNEL)[0].text.startswith(
        "🔴 CRISIS: Acme Air — negative mentions 12.0× normal over 5 min"
    )


def test_reminders_repeat_for_an_unacknowledged_crisis_until_acknowledged(
    tmp_path: Path, slack: FakeSlack
) -> None:
    rig = Rig(tmp_path, slack, reminder=timedelta(minutes=30))
    rig.observe(0, Level.CRISIS)
    rig.drain()
    assert rig.notifier.remind() == 0
    rig.clock.advance(timedelta(minutes=30))
    assert rig.notifier.remind() == 1
    assert rig.notifier.remind() == 0
    rig.drain()
    assert (
        rig.thread()[-1].text.startswith("⏰ Still *CRISIS*")
        and f"<!subteam^{GROUP}>" in rig.thread()[-1].text
    )
    rig.act("acknowledge")
    rig.clock.advance(timedelta(hours=2))
    assert rig.notifier.remind() == 0


def test_snooze_holds_reminders_and_lower_updates_until_it_ends(tmp_path: Path, slack: FakeSlack) -> None:
    rig = Rig(tmp_path, slack, reminder=timedelta(minutes=30))
    rig.observe(0, Level.WARNING)
    rig.drain()
    rig.act("snooze", hours=1)
    rig.drain()
    assert rig.thread()[-1].text.startswith("💤 Snoozed by <@U0JANE>")
    n = len(rig.thread())
    rig.observe(5, Level.WARNING)
    rig.observe(7, Level.WATCH)
    rig.observe(18, Level.WATCH)  # down to watch: held back by the snooze
    rig.drain()
    assert len(rig.thread()) == n
    assert slack.parents(CHANNEL)[0].text.startswith("👀 WATCH")  # the parent still shows the truth
    rig.observe(20, Level.CRISIS)  # above the snoozed level: breaks through
    rig.drain()
    assert "*CRISIS*" in rig.thread()[-1].text or "*CRISIS*" in rig.thread()[-2].text
    assert rig.notifier.remind() == 0  # snoozed: no reminder even though unacknowledged
    rig.clock.set(T0 + timedelta(hours=1, minutes=31))
    assert rig.notifier.remind() == 1  # snooze over


def test_parent_messages_stay_within_slack_limits() -> None:
    long = "x" * 10_000
    view = IncidentView(
        id="acme:crisis:1", stream="acme", stream_name=long, level="crisis", peak_level="crisis",
        opened_at=T0,
        why=why(top_terms=[{"term": long, "count": 1, "lift": 2}] * 50,
                top_posts=[{"author": long, "text": long, "url": "https://x/" + long}] * 20),
    )  # fmt: skip
    message = parent_message(view, Links(long, long), T0, group=GROUP)
    blocks = message["blocks"]
    assert len(blocks) <= MAX_BLOCKS and len(message["text"]) <= 400
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= HEADER_CHARS
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= SECTION_CHARS
        for f in block.get("fields", []):
            assert len(f["text"]) <= FIELD_CHARS
        for e in block.get("elements", []):
            if e.get("type") == "button":
                assert len(e["text"]["text"]) <= BUTTON_CHARS
            if e.get("type") == "mrkdwn":
                assert len(e["text"]) <= SECTION_CHARS
