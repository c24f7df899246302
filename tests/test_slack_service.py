"""Slack alerting through the whole radar: the demo scenario's real mentions, the real pipeline,
the service's outbox and dispatcher thread, a local Slack Web API server, and the radar's HTTP app
on uvicorn receiving signed (and badly signed) button clicks.

Covers: the parent message of the acme crisis, a chart in its thread, the Acknowledge and Snooze
buttons recorded on the incident timeline and shown in the message, 401s counted in ``/metrics``,
and a crash mid-incident: the restarted radar neither posts a second parent nor forgets who
acknowledged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk import WebClient

from radar.app import create_app
from radar.config import RadarConfig
from radar.demo import demo_config
from radar.mention import Mention, parse_mention
from radar.scenario import demo_scenario
from radar.service import RadarService
from tests.fakeslack import FakeSlack
from tests.loopback import LoopbackServer

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL, GROUP = "C0CRISIS", "S0ONCALL"


@pytest.fixture(scope="module")
def crisis_mentions() -> tuple[list[Mention], datetime]:
    """The demo scenario's mentions up to 30 minutes into its acme crisis (the incident is open)."""
    scenario = demo_scenario(1)
    crisis = next(e for e in scenario.events if e.kind == "sudden_crisis")
    cut = crisis.start + timedelta(minutes=30)
    mentions = [parse_mention(r, None) for r in scenario.mentions()]
    return [m for m in mentions if m.created_at < cut], crisis.start


def _config(state_dir: Path) -> RadarConfig:
    base = demo_config(demo_scenario(1), str(state_dir)).model_dump()
    base["slack"] = {
        "channel": CHANNEL,
        "oncall_group": GROUP,
        "incident_url": "https://radar.example/incidents/{id}",
        "dashboard_url": "https://grafana.example/d/radar?var-stream={stream}",
    }
    return RadarConfig.model_validate(base)


class Radar:
    """A radar service with Slack on, behind uvicorn on loopback."""

    def __init__(self, state_dir: Path, slack: FakeSlack) -> None:
        client = WebClient(token=slack.token, base_url=slack.base_url, timeout=5, retry_handlers=[])
        self.service = RadarService(
            _config(state_dir), state_dir=state_dir, slack=client, live=False, fsync=False
        )
        self.service.start()
        app = create_app(self.service, token="", slack_secret=SECRET)
        self.server = LoopbackServer(app)
        self.http = httpx.Client(base_url=self.server.base, timeout=10)

    def click(
        self, action_id: str, value: str, *, user: str = "U0JANE", age: float = 0, secret: str = SECRET
    ) -> httpx.Response:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": "jane", "name": "jane"},
            "container": {"type": "message", "channel_id": CHANNEL},
            "actions": [
                {"type": "button", "action_id": action_id, "value": value, "block_id": "incident_actions"}
            ],
        }
        body = urlencode({"payload": json.dumps(payload)})
        stamp = str(int(time.time() - age))
        digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": f"v0={digest}",
        }
        return self.http.post("/slack/interactions", content=body, headers=headers)

    def metric(self, name: str) -> float:
        for line in self.http.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def close(self, *, crash: bool = False) -> None:
        self.http.close()
        self.server.stop()
        if crash:  # no final checkpoint: what a kill -9 leaves
            if self.service._scheduler is not None:
                self.service._scheduler.shutdown(wait=False)
            assert self.service.dispatcher is not None
            self.service.dispatcher.stop()
            self.service.dispatcher.outbox.close()
            self.service.journal.close()
        else:
            self.service.stop()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(channels=(CHANNEL,)) as server:
        yield server


def wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def feed(service: RadarService, mentions: list[Mention]) -> None:
    for i in range(0, len(mentions), 2000):
        service.submit(mentions[i : i + 2000])


def test_the_acme_crisis_in_slack_and_its_buttons(
    tmp_path: Path, slack: FakeSlack, crisis_mentions: tuple[list[Mention], datetime]
) -> None:
    mentions, _onset = crisis_mentions
    radar = Radar(tmp_path, slack)
    try:
        feed(radar.service, mentions)
        parents = wait_for(lambda: slack.parents(CHANNEL))
        assert len(parents) == 1
        parent = parents[0]
        assert "Acme" in parent.text and parent.text.split()[1] in ("WARNING:", "CRISIS:")
        incident_id = parent.metadata["event_payload"]["incident_id"]
        assert incident_id.startswith("acme:crisis:")
        blocks = json.dumps(parent.blocks, ensure_ascii=False)
        assert "expected" in blocks and "https://radar.example/incidents/acme:crisis:" in blocks
        chart = wait_for(lambda: [f for f in slack.files.values() if f.thread_ts == parent.ts])
        assert chart[0].content.startswith(b"\x89PNG")

        # a badly signed click and a replayed old one: refused and counted, nothing recorded
        assert radar.click("ack", incident_id, secret="wrong-secret").status_code == 401
        assert radar.click("ack", incident_id, age=301).status_code == 401
        assert radar.metric('radar_slack_interactions_total{outcome="bad_signature"}') == 1
        assert radar.metric('radar_slack_interactions_total{outcome="stale"}') == 1

        started = time.monotonic()
        answer = radar.click("ack", incident_id)
        assert answer.status_code == 200 and time.monotonic() - started < 3
        assert radar.click("snooze_1h", f"{incident_id}|1").status_code == 200
        incident = radar.service.pipeline.policy.find(incident_id)
        assert incident is not None
        assert [(a.action, a.actor, a.actor_id) for a in incident.actions] == [
            ("acknowledge", "jane", "U0JANE"),
            ("snooze", "jane", "U0JANE"),
        ]
        listed = radar.http.get("/v1/incidents").json()["incidents"]
        assert [a["action"] for i in listed if i["id"] == incident_id for a in i["actions"]] == [
            "acknowledge",
            "snooze",
        ]
        wait_for(lambda: "Acknowledged by <@U0JANE>" in json.dumps(slack.parents(CHANNEL)[0].blocks))
        replies = wait_for(lambda: [m for m in slack.replies(CHANNEL, parent.ts) if m.text.startswith("💤")])
        assert "Snoozed by <@U0JANE>" in replies[0].text
        assert radar.click("resolve", "acme:crisis:19990101T0000Z").json()["response_type"] == "ephemeral"
        assert radar.metric('radar_slack_interactions_total{outcome="accepted"}') == 2
        assert radar.metric('radar_notifications_sent_total{notifier="slack",what="parent"}') == 1
        timeline = radar.service.store.timeline(incident_id)  # the store heard all of it
        assert [e.detail["what"] for e in timeline if e.type == "notified"][:1] == ["parent"]
        assert [(e.type, e.actor) for e in timeline if e.actor] == [
            ("acknowledged", "jane"),
            ("snoozed", "jane"),
        ]
        health = radar.http.get("/healthz").json()["slack"]
        assert health["halted"] is None and health["permanent_failures"] == []
    finally:
        radar.close()


def test_a_crash_mid_incident_neither_reposts_nor_forgets(
    tmp_path: Path, slack: FakeSlack, crisis_mentions: tuple[list[Mention], datetime]
) -> None:
    mentions, onset = crisis_mentions
    before = [m for m in mentions if m.created_at < onset + timedelta(minutes=10)]
    after = [m for m in mentions if m.created_at >= onset + timedelta(minutes=10)]
    radar = Radar(tmp_path, slack)
    try:
        feed(radar.service, before)
        (parent,) = wait_for(lambda: slack.parents(CHANNEL))
        incident_id = parent.metadata["event_payload"]["incident_id"]
        radar.service.checkpoint()
        assert radar.click("ack", incident_id).status_code == 200  # after the checkpoint: only in the log
        wait_for(lambda: "Acknowledged" in json.dumps(slack.parents(CHANNEL)[0].blocks))
    finally:
        radar.close(crash=True)
    posts = len(slack.calls("chat.postMessage"))
    radar = Radar(tmp_path, slack)
    try:
        incident = radar.service.pipeline.policy.find(incident_id)
        assert incident is not None and incident.acknowledged is not None  # re-applied from the action log
        feed(radar.service, after)
        time.sleep(1.5)
        wait_for(
            lambda: radar.service.dispatcher is not None and radar.service.dispatcher.outbox.depth() == 0
        )
        assert len(slack.parents(CHANNEL)) == 1  # the same parent, edited
        replies = [m for m in slack.replies(CHANNEL, parent.ts) if m.text.startswith("👍")]
        assert len(replies) == 1  # the acknowledgement was told once
        assert len(slack.calls("chat.postMessage")) >= posts
    finally:
        radar.close()
